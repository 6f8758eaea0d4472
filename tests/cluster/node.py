"""The kubelet test cluster's node (tests/cluster/up --kubelet): a real kubelet with containerd,
runc and the CNI bridge plugins, kube-scheduler placing Pods and kube-proxy (nftables mode) giving
Services their cluster IPs, instead of the pod runner. Used by cluster.py; see README.md.

Network: the test creates the bridge `fmbr0` with 10.244.0.1/24 (the node's address; the API
server binds there too). Pods get 10.244.0.2–254 from the host-local plugin, and routes only to
that subnet and to the Service range 10.96.0.0/24 — no default route and no masquerading, so
nothing a Pod sends can leave this machine. One kubelet cluster per machine: the bridge, the
kube-proxy nftables table and the kubelet's cgroups (/kubepods) are machine-wide.

Host changes, all undone by `down`: the bridge; containerd's, the kubelet's and the CNI plugins'
state under the cluster's state dir (no /var/lib, /etc or /run paths: containerd keeps network
namespaces under its state dir); the `ip kube-proxy` nftables table; the /kubepods cgroups; and the
kernel settings the kubelet insists on (vm.overcommit_memory, vm.panic_on_oom, kernel.panic,
kernel.panic_on_oops, kernel.keys.root_max*), which `up` records and `down` restores."""
import json
import os
import shutil
import signal
import subprocess
import time

BRIDGE = "fmbr0"
NODE_IP = "10.244.0.1"
POD_SUBNET = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/24"
PAUSE_IMAGE = "featherman.test/pause:1"
CNI_BIN_DIR = "/usr/lib/cni"
TOOLS = {"containerd": "containerd", "ctr": "ctr", "runc": "runc", "ip": "ip", "nft": "nft"}
OWNER = "/run/featherman-kubelet-cluster"  # the state dir of the machine's kubelet cluster
# the kernel settings the kubelet sets (it refuses to start otherwise with protectKernelDefaults)
KUBELET_SYSCTLS = ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"]
CGROUP_ROOT = "/sys/fs/cgroup"


class NodeError(RuntimeError):
    pass


def check_host(bins):
    """Everything the node needs, each missing piece named with its fix."""
    if os.geteuid() != 0:
        raise NodeError("the kubelet cluster needs root (containerd, network namespaces, cgroups)")
    hint = "scripts/bootstrap.sh --test installs it"
    for name, tool in TOOLS.items():
        if not shutil.which(tool):
            raise NodeError(f"{name} is not installed ({hint})")
    for plugin in ("bridge", "host-local", "loopback"):
        if not os.access(os.path.join(CNI_BIN_DIR, plugin), os.X_OK):
            raise NodeError(f"the CNI plugin {plugin} is missing in {CNI_BIN_DIR} (containernetworking-plugins; {hint})")
    for b in ("kubelet", "kube-proxy", "kube-scheduler"):
        if not os.access(bins[b], os.X_OK):
            raise NodeError(f"{b} binary missing at {bins[b]}: run scripts/bootstrap.sh --test (or tests/cluster/build.sh)")
    if not (os.path.isdir(os.path.join(CGROUP_ROOT, "memory"))
            or os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))):
        raise NodeError(f"no cgroup v1 memory controller and no cgroup v2 hierarchy at {CGROUP_ROOT}")


def run(*argv, check=True, timeout=120, input=None):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise NodeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")
    return p


def claim_machine(state):
    """Refuses a second kubelet cluster on this machine while the first one's state dir exists."""
    try:
        with open(OWNER) as f:
            other = f.read().strip()
    except FileNotFoundError:
        other = ""
    if other and other != state and os.path.isdir(other):
        raise NodeError(f"another kubelet test cluster runs on this machine (state {other}); "
                        f"stop it first: FEATHERMAN_CLUSTER_DIR={other} tests/cluster/down")
    with open(OWNER, "w") as f:
        f.write(state + "\n")


def release_machine(state):
    try:
        with open(OWNER) as f:
            if f.read().strip() == state:
                os.unlink(OWNER)
    except FileNotFoundError:
        pass


# --- network -----------------------------------------------------------------------------------

def setup_bridge():
    if run("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        run("ip", "link", "add", BRIDGE, "type", "bridge")
    addrs = run("ip", "-4", "-o", "addr", "show", "dev", BRIDGE).stdout
    if f" {NODE_IP}/" not in addrs:
        run("ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def write_cni_config(state):
    d = os.path.join(state, "cni", "net.d")
    os.makedirs(d, exist_ok=True)
    conf = {"cniVersion": "1.0.0", "name": "featherman", "plugins": [{
        "type": "bridge", "bridge": BRIDGE, "isGateway": True, "isDefaultGateway": False, "ipMasq": False,
        "hairpinMode": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                 "routes": [{"dst": SERVICE_CIDR}], "dataDir": os.path.join(state, "cni", "ipam")}}]}
    with open(os.path.join(d, "10-featherman.conflist"), "w") as f:
        json.dump(conf, f, indent=1)


# --- containerd --------------------------------------------------------------------------------

def containerd_socket(state):
    return os.path.join(state, "containerd", "containerd.sock")


def write_containerd_config(state):
    base = os.path.join(state, "containerd")
    certs = os.path.join(base, "certs.d")
    # Only imported images exist: a pull of anything goes to a closed local port, never a registry.
    for host in ("docker.io", "featherman.test"):
        os.makedirs(os.path.join(certs, host), exist_ok=True)
        with open(os.path.join(certs, host, "hosts.toml"), "w") as f:
            f.write('server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n')
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    conf = f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{containerd_socket(state)}"
[ttrpc]
  address = "{containerd_socket(state)}.ttrpc"
[metrics]
  address = ""
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  # lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which this machine's root lacks:
  # the sandbox's -998 would kill runc's init; keep every score at or above containerd's own
  restrict_oom_score_adj = true
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        BinaryName = "{shutil.which('runc')}"
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{state}/cni/net.d"
  [{cri}.registry]
    config_path = "{certs}"
"""
    path = os.path.join(base, "config.toml")
    with open(path, "w") as f:
        f.write(conf)
    return path


def ctr(state, *args, timeout=600):
    return run("ctr", "--address", containerd_socket(state), "--namespace", "k8s.io", *args, timeout=timeout)


def import_image(state, tarball):
    """Loads a docker-archive or OCI tarball into the node's containerd (what the kubelet runs)."""
    if not os.path.isfile(tarball):
        raise NodeError(f"image tarball missing: {tarball}")
    return ctr(state, "images", "import", "--no-unpack=false", tarball).stdout


def image_names(state):
    return [line.split()[0] for line in ctr(state, "images", "list", "-q").stdout.splitlines() if line.strip()]


# --- kubelet, kube-proxy, kube-scheduler -------------------------------------------------------

def read_sysctls():
    vals = {}
    for k in KUBELET_SYSCTLS:
        with open(f"/proc/sys/{k}") as f:
            vals[k] = f.read().strip()
    return vals


def restore_sysctls(vals):
    for k, v in (vals or {}).items():
        try:
            with open(f"/proc/sys/{k}", "w") as f:
                f.write(v)
        except OSError:
            pass


def write_kubelet_config(state, port, healthz_port):
    pki = os.path.join(state, "pki")
    with open(os.path.join(state, "resolv.conf"), "w") as f:
        # no nameserver: a lookup in a Pod asks the Pod's own loopback and fails there
        f.write("options ndots:1 timeout:1 attempts:1\n")
    conf = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "failCgroupV1": False, "cgroupDriver": "cgroupfs", "cgroupsPerQOS": True,
        "address": NODE_IP, "port": port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "tlsCertFile": f"{pki}/kubelet.crt", "tlsPrivateKeyFile": f"{pki}/kubelet.key",
        "authentication": {"x509": {"clientCAFile": f"{pki}/ca.crt"}, "webhook": {"enabled": False},
                           "anonymous": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{containerd_socket(state)}",
        "podLogsDir": os.path.join(state, "pod-logs"),
        "resolvConf": os.path.join(state, "resolv.conf"),
        "failSwapOn": False, "protectKernelDefaults": False,
        "makeIPTablesUtilChains": False,  # no host firewall rules: the bridge is all pods use
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%", "imagefs.inodesFree": "1%"},
        "serializeImagePulls": False, "rotateCertificates": False, "serverTLSBootstrap": False,
        "syncFrequency": "10s", "fileCheckFrequency": "20s", "nodeStatusUpdateFrequency": "10s",
        "containerLogMaxSize": "50Mi",
        "staticPodPath": "",
        "logging": {"format": "text"},
    }
    path = os.path.join(state, "kubelet-config.yaml")
    with open(path, "w") as f:
        json.dump(conf, f, indent=1)  # JSON is YAML
    return path


def write_kube_proxy_config(state, kubeconfig, node_name, healthz_port, metrics_port):
    conf = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": kubeconfig}, "mode": "nftables",
        "clusterCIDR": POD_SUBNET, "hostnameOverride": node_name, "bindAddress": NODE_IP,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}", "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "conntrack": {"maxPerCore": 0, "min": 0},
    }
    path = os.path.join(state, "kube-proxy-config.yaml")
    with open(path, "w") as f:
        json.dump(conf, f, indent=1)
    return path


# --- teardown ----------------------------------------------------------------------------------

def _procs_under(marker):
    """pids whose command line mentions marker (a path inside this cluster's state dir)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(d))
        except OSError:
            pass
    return out


def _descendants(pids):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(children.get(p, []))
    return out


def kill_containers(state):
    """Every containerd shim of this cluster and every process under it (the containers)."""
    sock = containerd_socket(state)
    shims = [p for p in _procs_under(sock) if _exe_name(p).startswith("containerd-shim")]
    for p in _descendants(shims):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def unmount_under(state):
    """Unmounts everything mounted below state (overlay roots, volumes, /dev/shm, network
    namespaces), deepest first; lazily, so a busy mount cannot stop the teardown."""
    prefix = os.path.realpath(state).rstrip("/") + "/"
    for _ in range(5):
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4].replace("\\040", " ") for line in f]
        ours = sorted({p for p in points if p.startswith(prefix)}, key=len, reverse=True)
        if not ours:
            return
        for p in ours:
            subprocess.run(["umount", "-l", p], capture_output=True)


def remove_cgroups():
    """/kubepods in every cgroup v1 hierarchy (or the v2 one), leaves first (only empty cgroups can go)."""
    tops = [os.path.join(CGROUP_ROOT, "kubepods")] + [os.path.join(CGROUP_ROOT, c, "kubepods")
                                                       for c in os.listdir(CGROUP_ROOT)]
    for _ in range(25):  # a killed container's cgroup empties once the kernel has reaped it
        left = [t for t in tops if os.path.isdir(t)]
        if not left:
            return
        for top in left:
            for dirpath, _, _ in sorted(os.walk(top), key=lambda t: t[0].count("/"), reverse=True):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        time.sleep(0.2)


def teardown_network():
    run("nft", "delete", "table", "ip", "kube-proxy", check=False)
    run("nft", "delete", "table", "ip6", "kube-proxy", check=False)
    run("ip", "link", "del", BRIDGE, check=False)
    # the veths of killed pods vanish with their network namespaces
