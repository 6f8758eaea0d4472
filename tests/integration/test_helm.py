"""The install paths: `make dist` (dist/install.yaml and the chart's CRDs, generated from config/),
the Helm chart charts/featherman and the namespaced variant config/namespaced.

helm is the real CLI, built from the Go module proxy at the version tests/cluster/build/helm pins
(`tests/cluster/build.sh helm`, cached by version). The chart's default output is compared with
the objects of config/ so the two never drift; every rendered object is offered to the test
cluster's API server (`kubectl apply --dry-run=server`, the CRDs installed first: featherman's and
the Prometheus Operator's ServiceMonitor, from its Go module); the default output, dist/install.yaml
and config/namespaced are applied for real and the operator's pods, running under their own
ServiceAccount and RBAC, become Ready, lead and sync their caches."""
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CHART = os.path.join(ROOT, "charts", "featherman")
ALL_VALUES = os.path.join(HERE, "helm", "values-all.yaml")
VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
# The ServiceMonitor CRD the chart's metrics.serviceMonitor objects are checked against: the
# Prometheus Operator's own, from its Go module (checked against the Go checksum database and
# this hash).
PROMOP_MODULE, PROMOP_VERSION = "github.com/prometheus-operator/prometheus-operator", "v0.85.0"
PROMOP_SUM = "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s="


# helpers ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def helm():
    p = subprocess.run([os.path.join(ROOT, "tests", "cluster", "build.sh"), "helm"], capture_output=True, text=True)
    assert p.returncode == 0, f"building helm failed:\n{p.stderr}"
    path = p.stdout.strip().splitlines()[-1]
    assert os.access(path, os.X_OK), path
    return path


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if check:
        assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def render(helm, *args, namespace="fm-release", chart=CHART):
    """`helm template` (CRDs included) as a YAML string."""
    return run([helm, "template", "featherman", chart, "--namespace", namespace, "--include-crds", *args]).stdout


def kustomization_resources(d):
    with open(os.path.join(d, "kustomization.yaml")) as f:
        return yaml.safe_load(f)["resources"]


def config_objects(namespace):
    """The objects of config/crd, config/operator and config/gateway, the namespace-less ones
    (the gateway's: `kubectl apply -n NS -k config/gateway`) placed in `namespace`."""
    out = []
    for d in ("crd", "operator", "gateway"):
        base = os.path.join(ROOT, "config", d)
        for f in kustomization_resources(base):
            with open(os.path.join(base, f)) as fh:
                for o in docs(fh.read()):
                    if namespace and o["kind"] not in CLUSTER_SCOPED and "namespace" not in o["metadata"]:
                        o["metadata"]["namespace"] = namespace
                    out.append(o)
    return out


def key(o):
    return (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))


def by_key(objs):
    m = {}
    for o in objs:
        assert key(o) not in m, f"{key(o)} twice"
        m[key(o)] = o
    return m


def without_labels(o):
    """o without the labels and annotations of the object and of its pod template: the chart adds
    its own (release, chart version); everything else must be the same. A RoleBinding's
    ServiceAccount subject without a namespace is the binding's namespace's (kustomize writes it
    out, config/ and the chart leave it implicit)."""
    o = copy.deepcopy(o)
    for meta in (o["metadata"], o.get("spec", {}).get("template", {}).get("metadata", {})):
        meta.pop("labels", None)
        meta.pop("annotations", None)
    if o["kind"] == "RoleBinding":
        for subj in o.get("subjects", []):
            if subj["kind"] == "ServiceAccount":
                subj.setdefault("namespace", o["metadata"].get("namespace"))
    return o


def find(objs, kind, name):
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, (kind, name, [key(o) for o in objs])
    return hits[0]


def container(objs, deployment):
    return find(objs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


# make dist ----------------------------------------------------------------------------------
def dist_copy():
    """A copy of what scripts/dist.sh reads and writes, to run it without touching the tree."""
    d = tempfile.mkdtemp(prefix="fm-dist-")
    for sub in ("config", "charts", "dist", "scripts"):
        shutil.copytree(os.path.join(ROOT, sub), os.path.join(d, sub))
    for f in ("VERSION", "Makefile"):
        shutil.copy(os.path.join(ROOT, f), d)
    return d


def tree(d):
    out = {}
    for sub in ("dist", os.path.join("charts", "featherman")):
        for dirpath, _, files in os.walk(os.path.join(d, sub)):
            for f in files:
                p = os.path.join(dirpath, f)
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, d)] = fh.read()
    return out


def test_make_dist_output_is_committed_and_up_to_date():
    """`make dist` on a fresh checkout (no build/config.mk: the bundle needs no build) gives the
    committed bytes, twice in a row."""
    d = dist_copy()
    try:
        assert not os.path.exists(os.path.join(d, "build", "config.mk"))
        for _ in range(2):
            p = run(["make", "-s", "dist"], cwd=d)
            assert "dist/install.yaml" in p.stdout
            assert tree(d) == tree(ROOT), "dist/ or charts/featherman/ is not what `make dist` writes: run make dist"
    finally:
        shutil.rmtree(d)


def test_dist_install_is_config_with_the_version_as_image():
    with open(os.path.join(ROOT, "dist", "install.yaml")) as f:
        text = f.read()
    assert f"# featherman {VERSION}:" in text.splitlines()[0]
    assert [key(o) for o in docs(text)] == [key(o) for o in config_objects(None)], "install.yaml follows the kustomizations' order"
    assert by_key(docs(text)) == by_key(config_objects(None))  # config/ already names featherman:VERSION
    for dep in ("featherman-operator", "featherman-gateway"):
        assert container(docs(text), dep)["image"] == f"featherman:{VERSION}"
    assert container(docs(text), "featherman-operator")["args"][-2:] == ["--image", f"featherman:{VERSION}"]


def test_dist_follows_version():
    """A new VERSION reaches every image reference of the bundle and the chart's versions, and the
    chart's default image tag follows."""
    d = dist_copy()
    try:
        with open(os.path.join(d, "VERSION"), "w") as f:
            f.write("2.0.0-rc.1\n")
        run([os.path.join(d, "scripts", "dist.sh")])
        with open(os.path.join(d, "dist", "install.yaml")) as f:
            text = f.read()
        assert f"featherman:{VERSION}" not in text and text.count("featherman:2.0.0-rc.1") == 5, text.count("featherman:2.0.0-rc.1")
        objs = docs(text)
        assert container(objs, "featherman-operator")["args"][-1] == "featherman:2.0.0-rc.1"
        gw = container(objs, "featherman-gateway")
        assert gw["image"] == "featherman:2.0.0-rc.1"
        assert {e["name"]: e.get("value") for e in gw["env"]}["FEATHERMAN_IMAGE"] == "featherman:2.0.0-rc.1"
        with open(os.path.join(d, "charts", "featherman", "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        assert chart["version"] == "2.0.0-rc.1" and chart["appVersion"] == "2.0.0-rc.1"
    finally:
        shutil.rmtree(d)


@pytest.mark.parametrize("version", ["", "1.0 beta", "1.0/../x"])
def test_dist_refuses_a_bad_version(version):
    d = dist_copy()
    try:
        with open(os.path.join(d, "VERSION"), "w") as f:
            f.write(version + "\n")
        p = run([os.path.join(d, "scripts", "dist.sh")], check=False)
        assert p.returncode != 0 and f"VERSION '{version}' is not a version" in p.stderr, p.stderr
    finally:
        shutil.rmtree(d)


def test_dist_refuses_a_kustomization_naming_a_missing_file():
    d = dist_copy()
    try:
        k = os.path.join(d, "config", "gateway", "kustomization.yaml")
        with open(k, "a") as f:
            f.write("  - podmonitor.yaml\n")
        p = run([os.path.join(d, "scripts", "dist.sh")], check=False)
        assert p.returncode != 0
        assert "config/gateway/kustomization.yaml lists podmonitor.yaml, which does not exist" in p.stderr, p.stderr
    finally:
        shutil.rmtree(d)


# the chart, offline ---------------------------------------------------------------------------
def test_helm_is_the_pinned_version(helm):
    with open(os.path.join(ROOT, "tests", "cluster", "build", "helm", "go.mod")) as f:
        pinned = next(line.split()[1] for line in f if line.strip().startswith("helm.sh/helm/v4 "))
    assert run([helm, "version", "--template", "{{.Version}}"]).stdout.strip() == pinned


@pytest.mark.parametrize("values", [[], ["-f", ALL_VALUES], ["--set", "gateway.enabled=false"]],
                         ids=["defaults", "all-values", "no-gateway"])
def test_helm_lint(helm, values):
    p = run([helm, "lint", "--strict", CHART, *values])
    assert "1 chart(s) linted, 0 chart(s) failed" in p.stdout, p.stdout


def test_default_values_render_the_objects_of_config(helm):
    """Same kinds, names and namespaces as config/ (the gateway in the release's namespace), and
    the same objects apart from labels and annotations: Deployments, RBAC rules, Service,
    NetworkPolicies, CRDs."""
    chart = by_key(docs(render(helm, namespace="fm-release")))
    config = by_key(config_objects("fm-release"))
    assert set(chart) == set(config)
    for k in config:
        assert without_labels(chart[k]) == without_labels(config[k]), k
    # the chart's selectors and pod labels are config's, so pods, NetworkPolicy and gateway agree
    for dep in ("featherman-operator", "featherman-gateway"):
        want = config[("Deployment", dep, "featherman-system" if "operator" in dep else "fm-release")]
        got = chart[key(want)]
        assert got["spec"]["selector"] == want["spec"]["selector"]
        labels = got["spec"]["template"]["metadata"]["labels"]
        assert {k: labels[k] for k in want["spec"]["template"]["metadata"]["labels"]} == want["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "featherman"


# Values that are Kubernetes objects of their own: the whole object must differ from the default.
FREE_FORM = {"resources", "podSecurityContext", "securityContext", "nodeSelector", "tolerations", "affinity",
             "podAnnotations", "podLabels", "labels"}


def test_every_value_is_exercised_by_the_all_values_file():
    """Each value of values.yaml is set in values-all.yaml to something else (gateway.enabled
    stays on there, so the gateway's values show; off is test_gateway_off_and_no_namespace_object)."""
    with open(os.path.join(CHART, "values.yaml")) as f:
        defaults = yaml.safe_load(f)
    with open(ALL_VALUES) as f:
        every = yaml.safe_load(f)

    def walk(d, e, path):
        for k, v in d.items():
            assert k in e, f"values-all.yaml does not set {path}{k}"
            if isinstance(v, dict) and v and k not in FREE_FORM:
                walk(v, e[k], f"{path}{k}.")
            elif f"{path}{k}" != "gateway.enabled":
                assert e[k] != v, f"values-all.yaml sets {path}{k} to its default"
    walk(defaults, every, "")


def test_all_values_render(helm):
    objs = docs(render(helm, "-f", ALL_VALUES, namespace="fm-all-release"))
    with open(ALL_VALUES) as f:
        v = yaml.safe_load(f)
    image = "registry.example.com:5000/team/featherman:9.8.7-rc1"
    op, gw = find(objs, "Deployment", "featherman-operator"), find(objs, "Deployment", "featherman-gateway")
    opc, gwc = op["spec"]["template"]["spec"]["containers"][0], gw["spec"]["template"]["spec"]["containers"][0]
    # image, pull policy, pull secrets; the image of the pods the operator and gateway create
    assert opc["image"] == gwc["image"] == image
    assert opc["imagePullPolicy"] == gwc["imagePullPolicy"] == "Always"
    assert opc["args"][3:5] == ["--image", image]
    assert {e["name"]: e.get("value") for e in gwc["env"]}["FEATHERMAN_IMAGE"] == image
    # the operator's namespace, made beforehand (createNamespace: false)
    assert op["metadata"]["namespace"] == "fm-all-operator"
    assert find(objs, "ServiceAccount", "featherman-operator")["metadata"]["namespace"] == "fm-all-operator"
    assert not [o for o in objs if o["kind"] == "Namespace"]
    # one watched namespace: --namespace, a Role there with the ClusterRole's rules, the Lease's Role
    assert opc["args"][-2:] == ["--namespace", "fm-all-watched"]
    assert not [o for o in objs if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = find(objs, "Role", "featherman-operator")
    assert role["metadata"]["namespace"] == "fm-all-watched"
    cluster_role = find(config_objects(None), "ClusterRole", "featherman-operator")
    assert role["rules"] == cluster_role["rules"]
    rb = find(objs, "RoleBinding", "featherman-operator")
    assert rb["metadata"]["namespace"] == "fm-all-watched" and rb["roleRef"]["kind"] == "Role"
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "featherman-operator", "namespace": "fm-all-operator"}]
    lease_role = find(objs, "Role", "featherman-operator-leader-election")
    assert lease_role["metadata"]["namespace"] == "fm-all-operator"
    assert lease_role["rules"] == [r for r in cluster_role["rules"] if r["resources"] == ["leases"]]
    assert find(objs, "RoleBinding", "featherman-operator-leader-election")["roleRef"]["name"] == "featherman-operator-leader-election"
    # replicas, resources, security contexts, scheduling, pod metadata: per component
    for dep, c, name in ((op, opc, "operator"), (gw, gwc, "gateway")):
        vals, spec = v[name], dep["spec"]["template"]["spec"]
        assert dep["spec"]["replicas"] == vals["replicas"]
        assert c["resources"] == vals["resources"]
        assert c["securityContext"] == vals["securityContext"]
        assert spec["securityContext"] == vals["podSecurityContext"]
        assert spec["nodeSelector"] == vals["nodeSelector"]
        assert spec["tolerations"] == vals["tolerations"]
        assert spec["affinity"] == vals["affinity"]
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        meta = dep["spec"]["template"]["metadata"]
        assert meta["annotations"] == vals["podAnnotations"]
        assert meta["labels"]["team"] == vals["podLabels"]["team"]
        # podLabels cannot take a pod out of its Deployment's selector
        assert meta["labels"]["app.kubernetes.io/component"] == name
        for k, val in dep["spec"]["selector"]["matchLabels"].items():
            assert meta["labels"][k] == val
    # gateway: drain = grace - 5 s, its Service
    assert gw["metadata"]["namespace"] == "fm-all-release"
    assert gw["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 130
    assert gwc["args"] == ["gateway", "--listen", "0.0.0.0:8080", "--drain-ms", "125000"]
    svc = find(objs, "Service", "featherman-query")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["port"] == 8088
    # metrics: the operator's metrics Service and a ServiceMonitor per component
    metrics = find(objs, "Service", "featherman-operator-metrics")
    assert metrics["metadata"]["namespace"] == "fm-all-operator"
    assert metrics["spec"]["selector"] == op["spec"]["selector"]["matchLabels"]
    for name, ns, port, svc_obj in (("featherman-operator", "fm-all-operator", "metrics", metrics),
                                    ("featherman-gateway", "fm-all-release", "http", svc)):
        sm = find(objs, "ServiceMonitor", name)
        assert sm["metadata"]["namespace"] == ns
        assert sm["metadata"]["labels"]["release"] == "kube-prometheus"
        assert sm["spec"]["endpoints"] == [{"port": port, "path": "/metrics", "interval": "15s"}]
        assert all(svc_obj["metadata"]["labels"][k] == val for k, val in sm["spec"]["selector"]["matchLabels"].items())


def test_default_render_has_no_service_monitor_and_watches_all_namespaces(helm):
    objs = docs(render(helm))
    assert not [o for o in objs if o["kind"] == "ServiceMonitor" or o["metadata"]["name"] == "featherman-operator-metrics"]
    assert "--namespace" not in container(objs, "featherman-operator")["args"]
    assert find(objs, "ClusterRole", "featherman-operator")


def test_gateway_off_and_no_namespace_object(helm):
    objs = docs(render(helm, "--set", "gateway.enabled=false", "--set", "operator.createNamespace=false",
                       "--set", "metrics.serviceMonitor.enabled=true"))
    assert not [o for o in objs if "gateway" in o["metadata"]["name"] or o["metadata"]["name"] == "featherman-query"
                or o["metadata"]["name"].startswith("featherman-pool-workers")]
    assert not [o for o in objs if o["kind"] == "Namespace"]
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "ServiceMonitor"] == ["featherman-operator"]


def test_watching_the_operators_own_namespace_needs_no_lease_role(helm):
    objs = docs(render(helm, "--set", "operator.watchNamespace=featherman-system"))
    rbac = sorted(key(o) for o in objs if o["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"))
    assert rbac == [("Role", "featherman-gateway", "fm-release"), ("Role", "featherman-operator", "featherman-system"),
                    ("RoleBinding", "featherman-gateway", "fm-release"),
                    ("RoleBinding", "featherman-operator", "featherman-system")]


@pytest.mark.parametrize("args,needles", [
    (["--set-json", 'operator.watchNamespace=["a","b"]'], ["/operator/watchNamespace", "got array, want string"]),
    (["--set", "operator.watchNamespace=Not_A_Namespace"], ["/operator/watchNamespace", "Not_A_Namespace"]),
    (["--set", "operator.replica=3"], ["/operator", "'replica' not allowed"]),
    (["--set", "gateway.terminationGracePeriodSeconds=5"], ["/gateway/terminationGracePeriodSeconds", "want 10"]),
    (["--set", "image.repository="], ["/image/repository"]),
    (["--set", "image.pullPolicy=Sometimes"], ["/image/pullPolicy", "must be one of"]),
    (["--set", "gateway.service.type=ExternalName"], ["/gateway/service/type", "must be one of"]),
    (["--set", "metrics.serviceMonitor.interval=soon"], ["/metrics/serviceMonitor/interval", "soon"]),
    (["--set", "operator.namespace="], ["/operator/namespace"]),
], ids=["watch-list", "watch-bad-name", "typo", "short-grace", "no-repository", "pull-policy", "service-type",
        "interval", "no-operator-namespace"])
def test_bad_values_are_refused_naming_the_value(helm, args, needles):
    p = run([helm, "template", "featherman", CHART, *args], check=False)
    assert p.returncode != 0, p.stdout
    for n in needles:
        assert n in p.stderr, (n, p.stderr)


# on the test cluster --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crds(kube_cluster):
    """featherman's CRDs (config/crd) and the Prometheus Operator's ServiceMonitor CRD, Established."""
    import json
    p = run(["go", "mod", "download", "-json", f"{PROMOP_MODULE}@{PROMOP_VERSION}"],
            env={**os.environ, "GOFLAGS": "-mod=mod"}, cwd=tempfile.gettempdir())
    mod = json.loads(p.stdout)
    assert mod["Sum"] == PROMOP_SUM, mod
    sm_crd = os.path.join(mod["Dir"], "example", "prometheus-operator-crd", "monitoring.coreos.com_servicemonitors.yaml")
    kube_cluster.kubectl("apply", "-k", os.path.join(ROOT, "config", "crd"))
    kube_cluster.kubectl("apply", "--server-side", "-f", sm_crd)
    ext = kube_cluster.kubernetes.client.ApiextensionsV1Api(kube_cluster.client)
    names = [o["metadata"]["name"] for f in kustomization_resources(os.path.join(ROOT, "config", "crd"))
             for o in docs(open(os.path.join(ROOT, "config", "crd", f)).read())] + ["servicemonitors.monitoring.coreos.com"]
    for n in names:
        kube_cluster.wait(lambda n=n: any(c.type == "Established" and c.status == "True"
                                          for c in (ext.read_custom_resource_definition(n).status.conditions or [])),
                          60, f"CRD {n} established")
    return names


def ensure_namespace(kc, name):
    try:
        kc.core.create_namespace({"metadata": {"name": name}})
    except kc.kubernetes.client.ApiException as e:
        assert e.status == 409, e
    kc.wait(lambda: kc.core.read_namespaced_service_account("default", name), 60, f"serviceaccount {name}/default")


def dry_run(kc, text, *args):
    """Every object offered to the API server (validation, admission, defaulting), nothing stored.
    CRDs were installed for real by the `crds` fixture."""
    objs = [o for o in docs(text) if o["kind"] != "CustomResourceDefinition"]
    out = kc.kubectl("apply", "--dry-run=server", "-o", "name", *args, "-f", "-", stdin=yaml.safe_dump_all(objs))
    assert len(out.split()) == len(objs), out
    return objs


def namespaced_overlay(kc):
    return kc.kubectl("kustomize", os.path.join(ROOT, "config", "namespaced"))


@pytest.mark.parametrize("source", ["chart-defaults", "chart-all-values", "dist", "namespaced", "chart-namespaced"])
def test_every_object_is_accepted_by_the_api_server(kube_cluster, crds, helm, source):
    kc = kube_cluster
    if source == "chart-defaults":
        for ns in ("featherman-system", "fm-release"):
            ensure_namespace(kc, ns)
        dry_run(kc, render(helm, namespace="fm-release"))
    elif source == "chart-all-values":
        for ns in ("fm-all-operator", "fm-all-watched", "fm-all-release"):
            ensure_namespace(kc, ns)
        objs = dry_run(kc, render(helm, "-f", ALL_VALUES, namespace="fm-all-release"))
        assert {o["kind"] for o in objs} >= {"ServiceMonitor", "Role", "Deployment", "NetworkPolicy", "Service"}
    elif source == "dist":
        ensure_namespace(kc, "featherman-system")
        with open(os.path.join(ROOT, "dist", "install.yaml")) as f:
            dry_run(kc, f.read())   # the gateway into the context's namespace, as a user applies it
    elif source == "namespaced":
        ensure_namespace(kc, "featherman")
        objs = docs(namespaced_overlay(kc))
        out = kc.kubectl("apply", "--dry-run=server", "-o", "name", "-k", os.path.join(ROOT, "config", "namespaced"))
        assert len(out.split()) == len(objs), out
        assert {o["metadata"]["namespace"] for o in objs} == {"featherman"}
        assert not [o for o in objs if o["kind"] in CLUSTER_SCOPED]
    else:
        ensure_namespace(kc, "fm-team")
        objs = dry_run(kc, render(helm, "--set", "operator.namespace=fm-team", "--set", "operator.createNamespace=false",
                                  "--set", "operator.watchNamespace=fm-team", namespace="fm-team"))
        assert not [o for o in objs if o["kind"] in CLUSTER_SCOPED]


def test_chart_one_namespace_renders_the_objects_of_config_namespaced(kube_cluster, helm):
    """The chart with everything in one namespace watched by the operator makes the objects of
    config/namespaced, apart from labels and how --namespace names it ($(POD_NAMESPACE) there)."""
    overlay = by_key(docs(namespaced_overlay(kube_cluster)))
    chart = by_key(docs(render(helm, "--set", "operator.namespace=featherman", "--set", "operator.createNamespace=false",
                               "--set", "operator.watchNamespace=featherman", namespace="featherman")))
    chart = {k: o for k, o in chart.items() if o["kind"] != "CustomResourceDefinition"}
    assert set(chart) == set(overlay)
    args = overlay[("Deployment", "featherman-operator", "featherman")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2:] == ["--namespace", "$(POD_NAMESPACE)"]
    args[-1] = "featherman"
    for k in overlay:
        assert without_labels(chart[k]) == without_labels(overlay[k]), k


class Install:
    """Objects applied for real; removed again at the end (except the CRDs and namespaces), and
    the operator's pods waited out, so the next install starts from nothing."""

    def __init__(self, kc, text, kubeconfig=None):
        self.kc, self.kubeconfig = kc, kubeconfig or kc.kubeconfig
        self.objs = [o for o in docs(text) if o["kind"] not in ("CustomResourceDefinition", "Namespace")]
        self.text = yaml.safe_dump_all(self.objs)

    def kubectl(self, *args, stdin=None):
        return run([self.kc.kubectl_bin, "--kubeconfig", self.kubeconfig, *args], input=stdin).stdout

    def apply(self, full_text):
        return self.kubectl("apply", "-f", "-", stdin=full_text)

    def remove(self, operator_ns):
        """The Deployments first, their pods waited out while their RBAC still lets the leader
        release its Lease (else the next install's operator waits for it to expire), then the rest."""
        deps = [o for o in self.objs if o["kind"] == "Deployment"]
        pods = [p.metadata.name for p in self.kc.core.list_namespaced_pod(
            operator_ns, label_selector="app.kubernetes.io/component=operator").items]
        self.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", stdin=yaml.safe_dump_all(deps))
        self.kc.wait(lambda: not self.kc.core.list_namespaced_pod(
            operator_ns, label_selector="app.kubernetes.io/component=operator").items, 120, "the operator's pods to end")
        self.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", stdin=self.text)
        for p in pods:  # the sanitizers' verdict on each operator process, leader or standby
            log = self.kc.pod_log(operator_ns, p, "featherman")
            assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]


def gateway_pods_refused(kc, ns):
    """The gateway's pods would bind 0.0.0.0:8080 of this machine (the pod runner shares the
    host's network, and other test clusters' pods listen on 127.x.0.N:8080): a quota of no pods
    in the gateway's namespace keeps them from being created, while its Deployment and every
    other object are applied as they are. The gateway pods run in the real-kubelet suite."""
    kc.core.create_namespaced_resource_quota(ns, {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})
    kc.wait(lambda: (kc.core.read_namespaced_resource_quota("no-pods", ns).status.hard or {}).get("pods") == "0",
            30, "the quota to be counted")


def operator_comes_up(kc, ns, args_tail):
    """At least one pod of Deployment featherman-operator becomes Ready, runs under its own
    ServiceAccount, takes the leader Lease and syncs its informers (its RBAC allows every list and
    watch); returns the leader's name and log."""
    coord = kc.kubernetes.client.CoordinationV1Api(kc.client)

    def ready():
        for p in kc.core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/component=operator").items:
            if p.metadata.deletion_timestamp is None and any(
                    c.type == "Ready" and c.status == "True" for c in (p.status.conditions or [])):
                return p
        return None
    pod = kc.wait(ready, 120, f"a Ready featherman-operator pod in {ns}")
    assert pod.spec.service_account_name == "featherman-operator"
    assert pod.spec.containers[0].args[-len(args_tail):] == args_tail

    def leads():
        lease = coord.read_namespaced_lease("featherman-operator", ns)
        holder = lease.spec.holder_identity or ""
        names = [p.metadata.name for p in kc.core.list_namespaced_pod(
            ns, label_selector="app.kubernetes.io/component=operator").items]
        return holder if any(holder.startswith(n + "-") for n in names) else None
    holder = kc.wait(leads, 120, f"a featherman-operator pod to hold Lease {ns}/featherman-operator")
    leader = holder.rsplit("-", 1)[0]
    kc.wait(lambda: "caches synced" in kc.pod_log(ns, leader, "featherman"), 120, f"{leader}'s caches to sync")
    log = kc.pod_log(ns, leader, "featherman")
    assert "forbidden" not in log.lower(), log[-4000:]
    return leader, log


def test_chart_default_output_runs_the_operator(kube_cluster, crds, helm):
    kc = kube_cluster
    release = f"fm-helm-{uuid.uuid4().hex[:6]}"
    ensure_namespace(kc, release)
    gateway_pods_refused(kc, release)
    text = render(helm, namespace=release)
    inst = Install(kc, text)
    try:
        inst.apply(text)
        operator_comes_up(kc, "featherman-system", ["--image", f"featherman:{VERSION}"])
        gw = kc.kubernetes.client.AppsV1Api(kc.client).read_namespaced_deployment("featherman-gateway", release)
        assert gw.spec.template.spec.service_account_name == "featherman-gateway"
    finally:
        inst.remove("featherman-system")


def test_dist_install_runs_the_operator(kube_cluster, crds):
    """`kubectl apply -f dist/install.yaml` as a user runs it: the gateway lands in the context's
    namespace."""
    kc = kube_cluster
    ns = f"fm-dist-{uuid.uuid4().hex[:6]}"
    ensure_namespace(kc, ns)
    gateway_pods_refused(kc, ns)
    d = tempfile.mkdtemp(prefix="fm-kubeconfig-")
    try:
        kubeconfig = os.path.join(d, "config")
        shutil.copy(kc.kubeconfig, kubeconfig)
        run([kc.kubectl_bin, "--kubeconfig", kubeconfig, "config", "set-context", "--current", "--namespace", ns])
        with open(os.path.join(ROOT, "dist", "install.yaml")) as f:
            text = f.read()
        inst = Install(kc, text, kubeconfig)
        try:
            out = inst.apply(text)
            assert "deployment.apps/featherman-gateway" in out
            operator_comes_up(kc, "featherman-system", ["--image", f"featherman:{VERSION}"])
            kc.kubernetes.client.AppsV1Api(kc.client).read_namespaced_deployment("featherman-gateway", ns)
        finally:
            inst.remove("featherman-system")
    finally:
        shutil.rmtree(d)


def namespace_gone(kc, name):
    try:
        kc.core.delete_namespace(name)
    except kc.kubernetes.client.ApiException as e:
        assert e.status == 404, e
    kc.wait(lambda: not [n for n in kc.core.list_namespace().items if n.metadata.name == name], 180,
            f"namespace {name} to be gone")


def test_helm_install_with_your_registry(kube_cluster, crds, helm):
    """The README's `helm install … --set image.repository=…`: a real release (Helm makes the
    namespace featherman-system itself, so none may exist before), the operator from that image;
    `helm uninstall` removes everything the release made, the namespace included."""
    kc = kube_cluster
    repo = "registry.example.com/team/featherman"
    namespace_gone(kc, "featherman-system")
    ns = f"fm-install-{uuid.uuid4().hex[:6]}"
    ensure_namespace(kc, ns)
    gateway_pods_refused(kc, ns)
    h = [helm, "--kubeconfig", kc.kubeconfig]
    try:
        run([*h, "install", "featherman", CHART, "--namespace", ns, "--set", f"image.repository={repo}"])
        operator_comes_up(kc, "featherman-system", ["--image", f"{repo}:{VERSION}"])
        pods = kc.core.list_namespaced_pod("featherman-system", label_selector="app.kubernetes.io/component=operator").items
        assert {p.spec.containers[0].image for p in pods} == {f"{repo}:{VERSION}"}
        assert "deployed" in run([*h, "status", "featherman", "--namespace", ns]).stdout
    finally:
        run([*h, "uninstall", "featherman", "--namespace", ns], check=False)
        namespace_gone(kc, "featherman-system")
    assert not kc.core.list_namespaced_service_account(ns, field_selector="metadata.name=featherman-gateway").items


def test_namespaced_install_runs_the_operator_with_a_role(kube_cluster, crds):
    """config/namespaced: the operator watches only its namespace, with a Role there (no
    ClusterRole exists for it), and still leads and syncs. The gateway's Deployment, which would
    share the namespace's quota, is checked by the dry run above and left out here."""
    kc = kube_cluster
    ensure_namespace(kc, "featherman")
    text = namespaced_overlay(kc)
    objs = [o for o in docs(text) if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "featherman-gateway")]
    text = yaml.safe_dump_all(objs)
    inst = Install(kc, text)
    try:
        inst.apply(text)
        _, log = operator_comes_up(kc, "featherman", ["--namespace", "$(POD_NAMESPACE)"])
        assert "watching featherman" in log, log[-4000:]
        # the Role reaches this namespace and no other
        authz = kc.kubernetes.client.AuthorizationV1Api(kc.client)
        for ns, allowed in (("featherman", True), ("default", False)):
            review = authz.create_subject_access_review({"spec": {
                "user": "system:serviceaccount:featherman:featherman-operator",
                "resourceAttributes": {"verb": "watch", "resource": "pods", "namespace": ns}}})
            assert review.status.allowed is allowed, (ns, review.status)
    finally:
        inst.remove("featherman")
