#!/usr/bin/env python3
"""The featherman test cluster: etcd, kube-apiserver and kube-controller-manager on 127.0.0.1,
plus the test-only pod runner (podrunner.py). Standard library only (certificates come from the
openssl CLI), so `tests/cluster/up` works with any python3; the pod runner needs the test venv.

    cluster.py up [--no-runner]   start (or reuse) the cluster; prints the env file's path
    cluster.py up --kubelet       the same with a real node instead of the pod runner: kubelet,
                                  containerd, runc, CNI bridge, kube-scheduler, kube-proxy (node.py)
    cluster.py down [--kubelet]   stop every process this cluster started and remove its state
    cluster.py import-image TAR   load an image tarball into the kubelet cluster's containerd
    cluster.py status             print whether it runs
    cluster.py restart-runner     (re)start only the pod runner (FEATHERMAN_BIN from the env)

State lives in $FEATHERMAN_CLUSTER_DIR (default /tmp/featherman-cluster, with --kubelet
/tmp/featherman-kubelet-cluster): pki/, etcd/, logs/,
pids/, pods/, pv/, kubeconfig, cluster.json and env (shell `export` lines). Binaries come from
$FEATHERMAN_K8S_BIN_DIR / $FEATHERMAN_ETCD_BIN, else from build/config.mk (K8S_BIN_DIR, ETCD_BIN),
which scripts/bootstrap.sh --test writes after tests/cluster/build.sh."""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

import node

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STATE = os.path.abspath(os.environ.get("FEATHERMAN_CLUSTER_DIR", "/tmp/featherman-cluster"))
KUBELET_STATE = "/tmp/featherman-kubelet-cluster"
NODE_NAME = os.environ.get("FEATHERMAN_NODE_NAME", "featherman-node")
SERVICE_CIDR = "10.96.0.0/24"
PV_COUNT = int(os.environ.get("FEATHERMAN_CLUSTER_PVS", "8"))
COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager"]
NODE_COMPONENTS = ["containerd", "kube-scheduler", "kubelet", "kube-proxy"]


class ClusterError(RuntimeError):
    pass


def log(msg):
    print(f"cluster: {msg}", file=sys.stderr, flush=True)


def path(*parts):
    return os.path.join(STATE, *parts)


def config_mk():
    vals = {}
    try:
        with open(os.path.join(ROOT, "build", "config.mk")) as f:
            for line in f:
                m = re.match(r"(\w+)\s*:=\s*(.*)", line.strip())
                if m:
                    vals[m.group(1)] = m.group(2)
    except FileNotFoundError:
        pass
    return vals


def binaries():
    cfg = config_mk()
    k8s = os.environ.get("FEATHERMAN_K8S_BIN_DIR") or cfg.get("K8S_BIN_DIR")
    etcd = os.environ.get("FEATHERMAN_ETCD_BIN") or cfg.get("ETCD_BIN")
    hint = "run scripts/bootstrap.sh --test (or tests/cluster/build.sh) first"
    if not k8s or not etcd:
        raise ClusterError(f"build/config.mk has no K8S_BIN_DIR/ETCD_BIN: {hint}")
    bins = {"etcd": etcd, "kube-apiserver": os.path.join(k8s, "kube-apiserver"),
            "kube-controller-manager": os.path.join(k8s, "kube-controller-manager"),
            "kubectl": os.path.join(k8s, "kubectl"), "kubelet": os.path.join(k8s, "kubelet"),
            "kube-proxy": os.path.join(k8s, "kube-proxy"), "kube-scheduler": os.path.join(k8s, "kube-scheduler")}
    for name, b in bins.items():
        if name in ("kubelet", "kube-proxy", "kube-scheduler"):
            continue  # the kubelet cluster's own; node.check_host checks them
        if not os.access(b, os.X_OK):
            raise ClusterError(f"{name} binary missing at {b}: {hint}")
    return bins


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- certificates ------------------------------------------------------------------------------

def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args[:2])} failed: {p.stderr.strip()}")


def make_ca(name, cn):
    pki = path("pki")
    key, crt = os.path.join(pki, f"{name}.key"), os.path.join(pki, f"{name}.crt")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    openssl("req", "-x509", "-new", "-key", key, "-subj", f"/CN={cn}", "-days", "3650", "-sha256",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-out", crt)


def make_cert(name, cn, org=None, sans=None, server=False, client=False, ca="ca"):
    pki = path("pki")
    key, csr, crt, ext = (os.path.join(pki, f"{name}.{e}") for e in ("key", "csr", "crt", "ext"))
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    subj = f"/CN={cn}" + (f"/O={org}" if org else "")
    openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
    usages = (["serverAuth"] if server else []) + (["clientAuth"] if client else [])
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
        f.write(f"extendedKeyUsage={','.join(usages)}\n")
        if sans:
            f.write("subjectAltName=" + ",".join(sans) + "\n")
    openssl("x509", "-req", "-in", csr, "-CA", os.path.join(pki, f"{ca}.crt"), "-CAkey", os.path.join(pki, f"{ca}.key"),
            "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", ext, "-out", crt)
    os.unlink(csr)
    os.unlink(ext)
    return crt, key


def make_pki(kubelet=False):
    os.makedirs(path("pki"), exist_ok=True)
    node_ip = [f"IP:{node.NODE_IP}"] if kubelet else []
    make_ca("ca", "featherman-test-ca")
    make_ca("front-proxy-ca", "featherman-test-front-proxy-ca")  # the aggregation layer's request-header CA
    make_cert("front-proxy-client", "front-proxy-client", client=True, ca="front-proxy-ca")
    make_cert("apiserver", "kube-apiserver", server=True,
              sans=["IP:127.0.0.1", "IP:10.96.0.1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
                    "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local"] + node_ip)
    make_cert("admin", "featherman-admin", org="system:masters", client=True)
    make_cert("kubelet", "featherman-node", server=True,
              sans=["IP:127.0.0.1", "DNS:localhost", f"DNS:{NODE_NAME}"] + node_ip)
    if kubelet:  # the node's components, each with the identity its default RBAC binding names
        make_cert("kubelet-client", f"system:node:{NODE_NAME}", org="system:nodes", client=True)
        make_cert("kube-proxy", "system:kube-proxy", client=True)
        make_cert("kube-scheduler", "system:kube-scheduler", client=True)
    make_cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", client=True)
    make_cert("controller-manager", "system:kube-controller-manager", client=True)
    # the service-account token signing key pair
    pki = path("pki")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", os.path.join(pki, "sa.key"))
    openssl("pkey", "-in", os.path.join(pki, "sa.key"), "-pubout", "-out", os.path.join(pki, "sa.pub"))


def write_kubeconfig(file, server, user, crt, key):
    ca = path("pki", "ca.crt")
    with open(file, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: featherman
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: {user}
  user:
    client-certificate: {crt}
    client-key: {key}
contexts:
- name: featherman
  context:
    cluster: featherman
    user: {user}
    namespace: default
current-context: featherman
""")
    os.chmod(file, 0o600)


# --- processes ---------------------------------------------------------------------------------

def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(name):
    """The pid of a component this cluster started, or None when it is gone (or the pid now
    belongs to some other process: the pid file records the executable too)."""
    try:
        with open(path("pids", f"{name}.pid")) as f:
            pid_s, _, exe = f.read().partition("\n")
        pid = int(pid_s.strip())
    except (OSError, ValueError):
        return None
    return pid if owns(pid, exe.strip()) else None


def owns(pid, exe):
    """True when pid runs exe (its argv[0])."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return False
    return bool(exe) and argv0 == exe


def spawn(name, argv, env=None):
    os.makedirs(path("logs"), exist_ok=True)
    os.makedirs(path("pids"), exist_ok=True)
    logf = open(path("logs", f"{name}.log"), "ab")
    logf.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
    logf.flush()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env or os.environ.copy(), cwd=STATE)
    logf.close()
    with open(path("pids", f"{name}.pid"), "w") as f:
        f.write(f"{proc.pid}\n{argv[0]}\n")
    return proc


def log_tail(name, n=30):
    try:
        with open(path("logs", f"{name}.log"), errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def stop(name, grace=15.0):
    pid = read_pid(name)
    if pid and pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + grace
        while time.time() < deadline and pid_alive(pid):
            time.sleep(0.1)
        if pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for _ in range(50):
                if not pid_alive(pid):
                    break
                time.sleep(0.1)
    try:
        os.unlink(path("pids", f"{name}.pid"))
    except FileNotFoundError:
        pass


def wait_until(what, fn, timeout, procs=()):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        for name, p in procs:
            if p.poll() is not None:
                raise ClusterError(f"{name} exited with {p.returncode} while waiting for {what}:\n{log_tail(name)}")
        try:
            if fn():
                return
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last = e
        time.sleep(0.2)
    tails = "".join(f"\n--- {name} log (tail):\n{log_tail(name, 15)}" for name, _ in procs)
    raise ClusterError(f"timed out after {timeout}s waiting for {what} (last error: {last}){tails}")


def ssl_context():
    ctx = ssl.create_default_context(cafile=path("pki", "ca.crt"))
    ctx.load_cert_chain(path("pki", "admin.crt"), path("pki", "admin.key"))
    return ctx


def api_ok(url, endpoint="/readyz"):
    with urllib.request.urlopen(url + endpoint, context=ssl_context(), timeout=2) as r:
        return r.status == 200


# --- the cluster -------------------------------------------------------------------------------

def load_info():
    try:
        with open(path("cluster.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def running(info=None):
    info = info or load_info()
    if not info:
        return False
    comps = COMPONENTS + (NODE_COMPONENTS if info.get("mode") == "kubelet" else [])
    if not all((read_pid(c) and pid_alive(read_pid(c))) for c in comps):
        return False
    try:
        return api_ok(info["server"])
    except Exception:  # noqa: BLE001
        return False


def kubectl(bins, *args, stdin=None, check=True):
    p = subprocess.run([bins["kubectl"], "--kubeconfig", path("kubeconfig"), *args], input=stdin,
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout


def bootstrap_objects(bins, kubelet=False):
    docs = ["""apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
"""]
    for i in range(PV_COUNT):
        d = path("pv", f"pv-{i:02d}")
        os.makedirs(d, exist_ok=True)
        if kubelet:
            # `local` volumes, as a provisioner of node disks makes them: the kubelet applies the
            # Pod's fsGroup to them (it does not to hostPath), so a non-root Pod can write
            docs.append(f"""apiVersion: v1
kind: PersistentVolume
metadata:
  name: featherman-pv-{i:02d}
  labels: {{featherman.dev/test-pv: "true"}}
spec:
  capacity: {{storage: 10Gi}}
  accessModes: [ReadWriteOnce, ReadWriteMany, ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  volumeMode: Filesystem
  local: {{path: {d}}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [{NODE_NAME}]}}]
""")
            continue
        docs.append(f"""apiVersion: v1
kind: PersistentVolume
metadata:
  name: featherman-pv-{i:02d}
  labels: {{featherman.dev/test-pv: "true"}}
spec:
  capacity: {{storage: 10Gi}}
  accessModes: [ReadWriteOnce, ReadWriteMany, ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  volumeMode: Filesystem
  hostPath: {{path: {d}, type: DirectoryOrCreate}}
""")
    kubectl(bins, "apply", "-f", "-", stdin="---\n".join(docs))


def up(with_runner=True, kubelet=False):
    with locked():
        info = load_info()
        if info and (info.get("mode") == "kubelet") != kubelet:  # refused before anything is stopped
            have, want = ("pod runner", "kubelet") if kubelet else ("kubelet", "pod runner")
            raise ClusterError(f"{STATE} holds a {have} cluster, not a {want} one: use another FEATHERMAN_CLUSTER_DIR "
                               "or stop it first with tests/cluster/down")
        for attempt in (1, 2):
            try:
                return _up(with_runner, kubelet)
            except (ClusterError, node.NodeError) as e:
                # keep the state dir (its logs say what went wrong), stop what was started
                for name in ["podrunner"] + NODE_COMPONENTS[::-1] + ["kube-controller-manager", "kube-apiserver", "etcd"]:
                    stop(name, grace=5)
                if attempt == 1 and "address already in use" in str(e):
                    log("a port was taken between choosing and binding it; starting again")
                    continue
                raise ClusterError(f"{e}\n(logs: {path('logs')})") from None


def _up(with_runner, kubelet=False):
    t0 = time.time()
    info = load_info()
    if running(info):
        log(f"reusing the cluster at {info['server']} (state {STATE})")
        if with_runner and not kubelet and not runner_alive():
            start_runner(info)
        return info
    if os.path.exists(STATE):
        log(f"cleaning a stale cluster state in {STATE}")
        _down(quiet=True)
    bins = binaries()
    host = "127.0.0.1"
    if kubelet:
        node.check_host(bins)
        os.makedirs(STATE, exist_ok=True)
        node.claim_machine(STATE)
        # before anything changes the host: what down restores
        with open(path("node.json"), "w") as f:
            json.dump({"sysctls": node.read_sysctls()}, f)
        node.setup_bridge()
        host = node.NODE_IP
    os.makedirs(STATE, exist_ok=True)
    for d in ("logs", "pids", "pods", "pv", "etcd"):
        os.makedirs(path(d), exist_ok=True)
    make_pki(kubelet)
    etcd_port, etcd_peer, api_port, kcm_port = free_port(), free_port(), free_port(), free_port()
    server = f"https://{host}:{api_port}"
    write_kubeconfig(path("kubeconfig"), server, "featherman-admin", path("pki", "admin.crt"), path("pki", "admin.key"))
    write_kubeconfig(path("controller-manager.kubeconfig"), server, "system:kube-controller-manager",
                     path("pki", "controller-manager.crt"), path("pki", "controller-manager.key"))

    etcd = spawn("etcd", [bins["etcd"], "--name", "featherman", "--data-dir", path("etcd"),
                          "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                          "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                          "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                          "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                          "--initial-cluster", f"featherman=http://127.0.0.1:{etcd_peer}",
                          "--unsafe-no-fsync", "--quota-backend-bytes", str(2 * 1024 ** 3),
                          "--log-level", "warn"])

    def etcd_ok():
        with urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/health", timeout=2) as r:
            return json.load(r).get("health") == "true"
    wait_until("etcd", etcd_ok, 30, [("etcd", etcd)])

    pki = path("pki")
    apiserver = spawn("kube-apiserver", [
        bins["kube-apiserver"],
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        f"--bind-address={host}", f"--advertise-address={host}", f"--secure-port={api_port}",
        f"--cert-dir={pki}",
        f"--tls-cert-file={pki}/apiserver.crt", f"--tls-private-key-file={pki}/apiserver.key",
        f"--client-ca-file={pki}/ca.crt",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki}/sa.pub", f"--service-account-signing-key-file={pki}/sa.key",
        "--api-audiences=https://kubernetes.default.svc.cluster.local",
        "--authorization-mode=Node,RBAC",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--enable-aggregator-routing=true",
        f"--requestheader-client-ca-file={pki}/front-proxy-ca.crt", "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki}/front-proxy-client.crt", f"--proxy-client-key-file={pki}/front-proxy-client.key",
        f"--kubelet-certificate-authority={pki}/ca.crt",
        f"--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt",
        f"--kubelet-client-key={pki}/apiserver-kubelet-client.key",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        "--allow-privileged=true",
        # 127.0.0.1 is not a valid Endpoints address; the node's bridge address is (kube-proxy
        # then sends the `kubernetes` Service's cluster IP to the API server)
        f"--endpoint-reconciler-type={'lease' if kubelet else 'none'}",
        "--profiling=false",
        "-v=1",
    ])
    wait_until("kube-apiserver /readyz", lambda: api_ok(server), 120, [("kube-apiserver", apiserver)])

    kcm_kc = path("controller-manager.kubeconfig")
    kcm = spawn("kube-controller-manager", [
        bins["kube-controller-manager"],
        f"--kubeconfig={kcm_kc}", f"--authentication-kubeconfig={kcm_kc}", f"--authorization-kubeconfig={kcm_kc}",
        "--bind-address=127.0.0.1", f"--secure-port={kcm_port}", f"--cert-dir={pki}",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki}/sa.key",
        f"--root-ca-file={pki}/ca.crt",
        f"--cluster-signing-cert-file={pki}/ca.crt", f"--cluster-signing-key-file={pki}/ca.key",
        "--controllers=*", "--leader-elect=false",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--node-monitor-grace-period=60s",
        "-v=1",
    ])
    info = {"server": server, "api_port": api_port, "etcd": f"http://127.0.0.1:{etcd_port}", "kcm_port": kcm_port,
            "kubeconfig": path("kubeconfig"), "state": STATE, "node": NODE_NAME, "bins": bins,
            "ca": path("pki", "ca.crt"), "admin_cert": path("pki", "admin.crt"), "admin_key": path("pki", "admin.key"),
            "mode": "kubelet" if kubelet else "podrunner"}
    if kubelet:
        info.update(node_ip=node.NODE_IP, pod_subnet=node.POD_SUBNET, service_cidr=SERVICE_CIDR,
                    containerd_socket=node.containerd_socket(STATE))
    with open(path("cluster.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(path("env"), "w") as f:
        f.write(f"""# written by tests/cluster/up
export FEATHERMAN_CLUSTER_DIR={STATE}
export KUBECONFIG={info['kubeconfig']}
export KUBE_APISERVER_URL={server}
export KUBE_APISERVER_PORT={api_port}
export ETCD_ENDPOINT={info['etcd']}
export KUBECTL={bins['kubectl']}
export PATH={os.path.dirname(bins['kubectl'])}:$PATH
""")

    def default_sa():
        return kubectl(bins, "get", "serviceaccount", "default", "-n", "default", "-o", "name", check=False).strip() != ""
    wait_until("the default service account (controller manager)", default_sa, 60, [("kube-controller-manager", kcm)])
    bootstrap_objects(bins, kubelet)
    if kubelet:
        start_node(bins, info)
    elif with_runner:
        start_runner(info)
    log(f"up in {time.time() - t0:.1f}s: {server}; source {path('env')}")
    return info


def restart_apiserver(down_s=3.0):
    """Stops kube-apiserver (SIGTERM), keeps it down for down_s seconds and starts it again with the
    same arguments and port: how tests see clients survive an API server restart."""
    info = load_info()
    pid = read_pid("kube-apiserver")
    if not pid:
        raise ClusterError("kube-apiserver is not running")
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    stop("kube-apiserver")
    time.sleep(down_s)
    p = spawn("kube-apiserver", argv)
    wait_until("kube-apiserver /readyz after a restart", lambda: api_ok(info["server"]), 120, [("kube-apiserver", p)])


# --- the kubelet cluster's node ----------------------------------------------------------------

def start_node(bins, info):
    """kube-scheduler, containerd (with the pause image), the kubelet and kube-proxy; returns when
    the Node is Ready."""
    import images
    pki, server = path("pki"), info["server"]
    for name, user in (("kube-scheduler", "system:kube-scheduler"), ("kubelet", f"system:node:{NODE_NAME}"),
                       ("kube-proxy", "system:kube-proxy")):
        crt = "kubelet-client" if name == "kubelet" else name
        write_kubeconfig(path(f"{name}.kubeconfig"), server, user, f"{pki}/{crt}.crt", f"{pki}/{crt}.key")
    sched_kc = path("kube-scheduler.kubeconfig")
    sched = spawn("kube-scheduler", [
        bins["kube-scheduler"], f"--kubeconfig={sched_kc}", f"--authentication-kubeconfig={sched_kc}",
        f"--authorization-kubeconfig={sched_kc}", "--bind-address=127.0.0.1", f"--secure-port={free_port()}",
        f"--cert-dir={pki}/kube-scheduler", "--leader-elect=false", "-v=1"])

    node.write_cni_config(STATE)
    cfg = node.write_containerd_config(STATE)
    ctrd = spawn("containerd", [shutil.which("containerd"), "--config", cfg, "--log-level", "info"])
    wait_until("containerd", lambda: node.ctr(STATE, "version").returncode == 0, 60, [("containerd", ctrd)])
    t = time.time()
    node.import_image(STATE, images.pause_tarball())
    log(f"pause image imported in {time.time() - t:.1f}s")

    kubelet_port, kubelet_healthz = free_port(), free_port()
    kcfg = node.write_kubelet_config(STATE, kubelet_port, kubelet_healthz)
    kubelet = spawn("kubelet", [
        bins["kubelet"], f"--config={kcfg}", f"--kubeconfig={path('kubelet.kubeconfig')}",
        f"--root-dir={path('kubelet')}", f"--hostname-override={NODE_NAME}", f"--node-ip={node.NODE_IP}", "-v=1"])
    pcfg = node.write_kube_proxy_config(STATE, path("kube-proxy.kubeconfig"), NODE_NAME, free_port(), free_port())
    proxy = spawn("kube-proxy", [bins["kube-proxy"], f"--config={pcfg}", "-v=1"])

    def node_ready():
        out = kubectl(bins, "get", "node", NODE_NAME, "-o", "json", check=False)
        conds = json.loads(out).get("status", {}).get("conditions", []) if out.strip() else []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
    wait_until("the kubelet's Node to be Ready", node_ready, 120,
               [("kubelet", kubelet), ("containerd", ctrd), ("kube-proxy", proxy), ("kube-scheduler", sched)])


def import_image(tarball):
    """Loads an image tarball into the kubelet cluster's containerd."""
    info = load_info()
    if not info or info.get("mode") != "kubelet":
        raise ClusterError(f"no kubelet cluster at {STATE} (tests/cluster/up --kubelet starts one)")
    t = time.time()
    out = node.import_image(STATE, tarball)
    log(f"imported {tarball} in {time.time() - t:.1f}s")
    return out


def stop_node():
    """Undoes everything start_node and the kubelet did to this machine (see node.py)."""
    for name in ("kube-proxy", "kubelet", "kube-scheduler"):
        stop(name, grace=10)
    node.kill_containers(STATE)
    stop("containerd", grace=10)
    node.kill_containers(STATE)
    node.unmount_under(STATE)
    node.remove_cgroups()
    node.teardown_network()
    try:
        with open(path("node.json")) as f:
            node.restore_sysctls(json.load(f).get("sysctls"))
    except (OSError, ValueError):
        pass
    node.release_machine(STATE)


# --- the pod runner ----------------------------------------------------------------------------

def runner_alive():
    pid = read_pid("podrunner")
    return bool(pid and pid_alive(pid))


def runner_python():
    venv = config_mk().get("TEST_VENV")
    py = os.path.join(venv, "bin", "python") if venv else None
    if py and os.access(py, os.X_OK):
        return py
    return sys.executable


def start_runner(info=None, env_extra=None):
    info = info or load_info()
    stop("podrunner")
    env = os.environ.copy()
    env.update(env_extra or {})
    env.setdefault("FEATHERMAN_BIN", os.path.join(ROOT, "build", "featherman"))
    env["FEATHERMAN_CLUSTER_DIR"] = STATE
    proc = spawn("podrunner", [runner_python(), os.path.join(HERE, "podrunner.py")], env=env)
    ready = path("podrunner.ready")

    def node_ready():
        return os.path.exists(ready) and os.path.getmtime(ready) >= proc_start
    proc_start = time.time() - 1
    wait_until("the pod runner to register its node", node_ready, 60, [("podrunner", proc)])
    return proc


# --- down --------------------------------------------------------------------------------------

def kill_pod_processes():
    """Pod processes the runner left (it stops them itself on SIGTERM; this is the safety net).
    Only a process whose environment names this pod's root is ours: pids get reused."""
    pods = path("pods")
    if not os.path.isdir(pods):
        return
    for d in os.listdir(pods):
        marker = f"FEATHERMAN_ROOT={os.path.join(pods, d, 'root')}".encode()
        for f in os.listdir(os.path.join(pods, d)):
            if not f.endswith(".pid"):
                continue
            try:
                with open(os.path.join(pods, d, f)) as fh:
                    pid = int(fh.read().strip())
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    if marker not in fh.read().split(b"\0"):
                        continue
                if pid_alive(pid):
                    os.killpg(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass


def down(quiet=False):
    with locked():
        _down(quiet)


def _down(quiet):
    if os.path.exists(path("node.json")):  # a kubelet cluster (or what a failed start left of one)
        stop_node()
    for name in ["podrunner", "kube-controller-manager", "kube-apiserver", "etcd"]:
        stop(name)
    kill_pod_processes()
    existed = os.path.isdir(STATE)
    if existed:
        # refuse to remove something that is not a cluster state dir
        if not os.path.exists(path("pids")) and not os.path.exists(path("cluster.json")) and os.listdir(STATE):
            raise ClusterError(f"{STATE} does not look like a featherman cluster state dir; not removing it")
        shutil.rmtree(STATE, ignore_errors=True)
    if not quiet:
        log(f"down: stopped and removed {STATE}" if existed else f"down: nothing at {STATE}")


class locked:
    """One `up`/`down` at a time per state dir (a lock file beside it)."""

    def __enter__(self):
        import fcntl
        self.f = open(STATE.rstrip("/") + ".lock", "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.f.close()


def main(argv):
    global STATE
    cmd = argv[1] if len(argv) > 1 else "up"
    kubelet = "--kubelet" in argv
    if (kubelet or cmd == "import-image") and "FEATHERMAN_CLUSTER_DIR" not in os.environ:
        STATE = KUBELET_STATE
    try:
        if cmd == "up":
            up(with_runner="--no-runner" not in argv, kubelet=kubelet)
            print(path("env"))
        elif cmd == "down":
            down()
        elif cmd == "import-image" and len(argv) > 2:
            import_image(argv[2])
        elif cmd == "status":
            print("running" if running() else "stopped")
            return 0 if running() else 1
        elif cmd == "restart-runner":
            start_runner()
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (ClusterError, node.NodeError) as e:
        log(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
