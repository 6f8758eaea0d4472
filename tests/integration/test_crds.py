"""The CRDs in config/crd and the samples in config/samples.

Static part (no cluster): the YAML is a well-formed apiextensions.k8s.io/v1 CRD with a
structural schema, every string and array is bounded (the CEL cost estimator refuses rules over
unbounded values), list-maps are keyed by required fields, conditions follow the Kubernetes API
conventions, the fields fixed at creation carry a `self == oldSelf` rule and are always present,
and the column-type pattern refuses what no type contains.

Live part: a real kube-apiserver takes the CRDs (so the CEL cost budget is met), fills in the
defaults, and accepts or refuses the samples and hand-made objects with the expected messages.
The API server is the test cluster (tests/cluster/fixture.py's kube_cluster) when that file is
there and FEATHERMAN_CRD_TEST_BARE is unset; otherwise a bare etcd + kube-apiserver started here
from the cached binaries (K8S_BIN_DIR / ETCD_BIN in
build/config.mk, or ~/.cache/featherman/{k8s,etcd}-*/bin). Without binaries the live tests skip
and say why.
"""
import copy
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CRD_DIR = os.path.join(ROOT, "config", "crd")
SAMPLES = os.path.join(ROOT, "config", "samples")
GROUP = "ducklake.featherman.dev"
KINDS = {
    "DuckLakeCatalog": ("ducklakecatalogs", "dlc"),
    "DuckLakeTable": ("ducklaketables", "dlt"),
    "DuckLakePool": ("ducklakepools", "dlp"),
}


def load_crds():
    crds = {}
    for path in sorted(glob.glob(os.path.join(CRD_DIR, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        with open(path) as f:
            doc = yaml.safe_load(f)
        crds[doc["spec"]["names"]["kind"]] = doc
    return crds


CRDS = load_crds()


def schema_of(kind):
    return CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def walk(node, path="", inherited_unknown=False):
    """(path, schema node) for every schema node below `node`."""
    yield path, node
    unknown = inherited_unknown or node.get("x-kubernetes-preserve-unknown-fields", False)
    for name, child in (node.get("properties") or {}).items():
        yield from walk(child, f"{path}.{name}", unknown)
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]", unknown)
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}", unknown)
    for i, alt in enumerate(node.get("anyOf") or []):
        yield from walk(alt, f"{path}<anyOf{i}>", unknown)


def node_at(kind, dotted):
    node = schema_of(kind)
    for part in dotted.split("."):
        if part == "[]":
            node = node["items"]
        else:
            node = node["properties"][part]
    return node


# ---------------------------------------------------------------------------------------------
# static checks


def test_kustomization_lists_every_crd():
    with open(os.path.join(CRD_DIR, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    files = {os.path.basename(p) for p in glob.glob(os.path.join(CRD_DIR, "*.yaml"))} - {"kustomization.yaml"}
    assert set(k["resources"]) == files
    assert set(CRDS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_crd_header(kind):
    crd = CRDS[kind]
    plural, short = KINDS[kind]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.{GROUP}"
    spec = crd["spec"]
    assert spec["group"] == GROUP and spec["scope"] == "Namespaced"
    names = spec["names"]
    assert names["plural"] == plural and names["singular"] == kind.lower() and names["listKind"] == kind + "List"
    assert names["shortNames"] == [short]
    assert names["categories"] == ["featherman"]
    [v] = spec["versions"]
    assert v["name"] == "v1alpha1" and v["served"] is True and v["storage"] is True
    assert v["subresources"] == {"status": {}}
    assert "spec" in v["schema"]["openAPIV3Schema"]["required"]


@pytest.mark.parametrize("kind,columns", [
    ("DuckLakeCatalog", ["Phase", "Ready", "Age"]),
    ("DuckLakeTable", ["Phase", "Ready", "Age"]),
    ("DuckLakePool", ["Min", "Max", "Current", "Idle", "Busy", "Phase", "Age"]),
])
def test_printer_columns(kind, columns):
    cols = CRDS[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    default = [c["name"] for c in cols if c.get("priority", 0) == 0]
    assert default == columns
    for c in cols:
        assert c["jsonPath"].startswith(".")
        assert c["type"] in ("string", "integer", "number", "boolean", "date")
    if kind != "DuckLakePool":
        ready = next(c for c in cols if c["name"] == "Ready")
        assert ready["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_is_structural(kind):
    """Every node has a type (or is int-or-string / preserve-unknown-fields), objects have
    properties or additionalProperties but not both, anyOf only where int-or-string needs it."""
    for path, node in walk(schema_of(kind)):
        if "<anyOf" in path:
            assert set(node) <= {"type"}, path
            continue
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, path
            assert node.get("anyOf") == [{"type": "integer"}, {"type": "string"}], path
            continue
        assert "anyOf" not in node and "oneOf" not in node and "allOf" not in node, path
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert node.get("type") in (None, "object"), path
            continue
        assert node.get("type") in ("object", "array", "string", "integer", "number", "boolean"), path
        if node["type"] == "object" and path:
            assert ("properties" in node) != ("additionalProperties" in node) or path in (".metadata",), path
        if node["type"] == "array":
            assert isinstance(node.get("items"), dict), path
        for key in ("required",):
            for r in node.get(key, []):
                assert r in node.get("properties", {}), (path, r)


def bounded(kind):
    """(path, node, problem) for strings without maxLength and arrays without maxItems."""
    out = []
    for path, node in walk(schema_of(kind)):
        if not path or path in (".apiVersion", ".kind", ".metadata") or "<anyOf" in path:
            continue
        if node.get("x-kubernetes-preserve-unknown-fields"):
            continue
        t = node.get("type")
        is_str = t == "string" or node.get("x-kubernetes-int-or-string")
        if is_str and "maxLength" not in node and "enum" not in node and node.get("format") != "date-time":
            out.append((path, "string without maxLength"))
        if t == "array" and "maxItems" not in node:
            out.append((path, "array without maxItems"))
        if t == "object" and "additionalProperties" in node and "maxProperties" not in node:
            out.append((path, "map without maxProperties"))
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_string_array_and_map_is_bounded(kind):
    """CEL's cost estimate multiplies by maxLength/maxItems; an unbounded value anywhere a rule
    can reach makes the API server refuse the CRD. Bounding everything keeps that true as rules
    are added."""
    assert bounded(kind) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_cel_rule_sees_only_bounded_values(kind):
    for path, node in walk(schema_of(kind)):
        if node.get("x-kubernetes-validations"):
            sub = [p for p, _ in bounded(kind) if p.startswith(path)]
            assert sub == [], (path, sub)
            for v in node["x-kubernetes-validations"]:
                assert v["rule"].strip()
                assert v.get("message") or v.get("messageExpression"), (path, v)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_conditions_follow_api_conventions(kind):
    c = node_at(kind, "status.conditions")
    assert c["type"] == "array" and c["x-kubernetes-list-type"] == "map"
    assert c["x-kubernetes-list-map-keys"] == ["type"]
    item = c["items"]
    assert set(item["required"]) == {"type", "status", "lastTransitionTime", "reason", "message"}
    p = item["properties"]
    assert p["status"]["enum"] == ["True", "False", "Unknown"]
    assert p["lastTransitionTime"]["format"] == "date-time"
    assert p["observedGeneration"]["type"] == "integer" and p["observedGeneration"]["minimum"] == 0
    assert p["message"]["maxLength"] == 32768
    assert p["reason"]["maxLength"] == 1024
    reason = re.compile(p["reason"]["pattern"])
    assert reason.match("Ready") and reason.match("BackupFailed") and reason.match("a_b:c,d")
    assert not reason.match("has space") and not reason.match("1Bad") and not reason.match("")
    ctype = re.compile(p["type"]["pattern"])
    assert ctype.match("Ready") and ctype.match("ReconciliationPaused") and ctype.match("featherman.dev/Backup")
    assert not ctype.match("Not Ready")
    st = schema_of(kind)["properties"]["status"]["properties"]
    assert st["observedGeneration"]["type"] == "integer" and st["phase"]["type"] == "string"
    # all three kinds share one conditions schema
    assert c == node_at("DuckLakeCatalog", "status.conditions")


def test_columns_are_a_list_map_keyed_by_name():
    cols = node_at("DuckLakeTable", "spec.columns")
    assert cols["x-kubernetes-list-type"] == "map" and cols["x-kubernetes-list-map-keys"] == ["name"]
    assert "name" in cols["items"]["required"]
    assert cols["minItems"] == 1 and cols["maxItems"] == 1000  # MAX_COLUMNS in src/model/spec_table.c


def rules(node):
    return [v["rule"] for v in node.get("x-kubernetes-validations", [])]


def always_present(kind, dotted):
    """A field is on every stored object when each step is required or defaulted."""
    node = schema_of(kind)
    for part in dotted.split("."):
        if part not in node.get("required", []) and "default" not in node["properties"][part]:
            return False
        node = node["properties"][part]
    return True


@pytest.mark.parametrize("kind,field", [
    ("DuckLakeCatalog", "spec.metadata.type"),
    ("DuckLakeCatalog", "spec.objectStore.bucket"),
    ("DuckLakeCatalog", "spec.objectStore.prefix"),
    ("DuckLakeCatalog", "spec.encryption.enabled"),
    ("DuckLakeTable", "spec.name"),
])
def test_fixed_fields_are_immutable_and_always_present(kind, field):
    assert "self == oldSelf" in rules(node_at(kind, field))
    # a transition rule is skipped when the old value is absent: the field must never be
    assert always_present(kind, field), field


def test_pool_min_not_above_max_rule():
    assert "self.minSize <= self.maxSize" in rules(node_at("DuckLakePool", "spec"))


def test_table_partition_rule_names_the_entry():
    spec = node_at("DuckLakeTable", "spec")
    [v] = [v for v in spec["x-kubernetes-validations"] if "names no declared column" in v.get("messageExpression", "")]
    assert v["fieldPath"] == ".format.partitioning"
    for fn in ("year", "month", "day", "hour", "bucket"):
        assert fn in v["rule"]


COLUMN_TYPE_OK = [
    "INTEGER", "int", "BIGINT", "DECIMAL(10,2)", "DECIMAL( 10 , 2 )", "VARCHAR[]", "INTEGER[][]",
    "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "MAP(VARCHAR, BIGINT)", "STRUCT(a INTEGER, b VARCHAR)",
    'STRUCT("b c" VARCHAR, "select" INTEGER)', 'STRUCT("a); DROP TABLE x; --" INTEGER)',
    'STRUCT("say ""hi""" VARCHAR)', "STRUCT(a\n INTEGER,\tb DOUBLE)", "UHUGEINT", "uuid",
]
COLUMN_TYPE_BAD = [
    "INT); DROP TABLE x; --", "INTEGER;", "VARCHAR -- comment", "INT/**/", "VARCHAR'", "INTEGER\x00",
    'STRUCT("unterminated INTEGER)', "DECIMAL(10.2)", "ENUM('a','b')", "INTEGER\x1b", "",
]


@pytest.mark.parametrize("text", COLUMN_TYPE_OK)
def test_column_type_pattern_lets_types_through(text):
    p = node_at("DuckLakeTable", "spec.columns.[].type")["pattern"]
    assert re.fullmatch(p, text), text


@pytest.mark.parametrize("text", COLUMN_TYPE_BAD)
def test_column_type_pattern_refuses_what_no_type_has(text):
    p = node_at("DuckLakeTable", "spec.columns.[].type")["pattern"]
    assert not re.fullmatch(p, text), text


@pytest.mark.parametrize("field,ok,bad", [
    ("DuckLakeCatalog:spec.objectStore.prefix", ["", "lake", "lake/", "a/b/c/", "my lake/x"],
     ["/lake", "a//b", "a\\b", "a\nb", "//"]),
    ("DuckLakeCatalog:spec.objectStore.bucket", ["my-data-lake", "abc", "a.b-c"], ["-abc", "abc-", "ABC", "a_b"]),
    ("DuckLakeCatalog:spec.objectStore.endpoint", ["s3.amazonaws.com", "minio:9000", "[::1]:9000"],
     ["http://x", "a b", "x/y"]),
    ("DuckLakeCatalog:spec.metadata.size", ["1Gi", "10Gi", "1.5Ti", "2000000000"], ["1 Gi", "10GB", "-1Gi", "1e9"]),
    ("DuckLakeCatalog:spec.backupPolicy.schedule", ["0 2 * * *", "*/15 * * * mon-fri", "0 0 1 jan *"],
     ["@daily", "0 2 * *", "0 2 * * * *", "0 2 * * *; rm"]),
    ("DuckLakePool:spec.maxIdleTime", ["300s", "0", "1h30m", "250ms", "1.5s", ".5s"],
     ["300", "5 m", "1d", "-1s", "1.s", "1us", ""]),
    ("DuckLakePool:spec.catalogRef.name", ["example", "a.b-c", "a" * 63 + ".b"],
     ["Example", "a_b", "-a", "", "a" * 64, "a..b"]),
    ("DuckLakeTable:spec.catalogRef", ["example"], ["a" * 64 + ".b"]),
])
def test_patterns(field, ok, bad):
    kind, path = field.split(":")
    p = node_at(kind, path)["pattern"]
    for s in ok:
        assert re.fullmatch(p, s), (path, s)
    for s in bad:
        assert not re.fullmatch(p, s), (path, s)


def default_of(kind, dotted):
    return node_at(kind, dotted).get("default")


# The defaults the C spec parsers (src/model/spec_catalog.c, spec_table.c, spec_pool.c) apply; the
# schema fills in the same values so that what the operator reads is what kubectl shows.
C_DEFAULTS = {
    "DuckLakeCatalog": {
        "spec.metadata.type": "sqlite", "spec.objectStore.prefix": "", "spec.objectStore.region": "us-east-1",
        "spec.objectStore.urlStyle": "path", "spec.objectStore.useSSL": True,
        "spec.objectStore.credentialsSecret.accessKeyField": "AWS_ACCESS_KEY_ID",
        "spec.objectStore.credentialsSecret.secretKeyField": "AWS_SECRET_ACCESS_KEY",
        "spec.metadata.passwordSecret.key": "password", "spec.encryption.enabled": False,
        "spec.backupPolicy.retentionDays": 7, "spec.backupPolicy.suspend": False, "spec.deletionPolicy": "retain",
        # conditional on the backend in C, so not defaulted by the schema (a default would put
        # a postgres-only field on every sqlite catalog, which the parser refuses)
        "spec.metadata.port": None, "spec.metadata.sslMode": None, "spec.metadata.size": None,
    },
    "DuckLakeTable": {
        "spec.columns.[].nullable": True, "spec.deletionPolicy": "retain", "spec.materializeTo.enabled": False,
        "spec.materializeTo.mode": "overwrite", "spec.materializeTo.format.type": "parquet",
        "spec.materializeTo.format.compression": "ZSTD",
    },
    "DuckLakePool": {
        "spec.minSize": 1, "spec.maxSize": 3, "spec.targetUtilization": 0.8, "spec.maxIdleTime": "300s",
        "spec.maxLifetime": "0", "spec.maxQueries": 0, "spec.scaleUpRate": 2, "spec.scaleDownRate": 1,
        "spec.scaleInterval": "30s", "spec.stabilizationWindow": "300s", "spec.queue.maxLength": 100,
        "spec.queue.maxWaitTime": "30s", "spec.maxQueryDuration": "60s", "spec.catalogRef.readOnly": False,
    },
}


@pytest.mark.parametrize("kind,field,value", [(k, f, v) for k, d in C_DEFAULTS.items() for f, v in d.items()])
def test_defaults_match_the_spec_parsers(kind, field, value):
    assert default_of(kind, field) == value


def test_enums_match_the_spec_parsers():
    assert node_at("DuckLakeCatalog", "spec.metadata.type")["enum"] == ["sqlite", "duckdb", "postgres"]
    assert node_at("DuckLakeCatalog", "spec.metadata.sslMode")["enum"] == [
        "disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    assert node_at("DuckLakeCatalog", "spec.objectStore.urlStyle")["enum"] == ["path", "vhost"]
    comp = ["ZSTD", "SNAPPY", "GZIP", "LZ4", "LZ4_RAW", "BROTLI", "UNCOMPRESSED"]
    assert node_at("DuckLakeTable", "spec.format.compression")["enum"] == comp
    assert node_at("DuckLakeTable", "spec.materializeTo.format.compression")["enum"] == comp
    assert node_at("DuckLakeTable", "spec.materializeTo.mode")["enum"] == ["overwrite", "append"]
    for kind in ("DuckLakeCatalog", "DuckLakeTable"):
        assert node_at(kind, "spec.deletionPolicy")["enum"] == ["retain", "delete"]


@pytest.mark.parametrize("kind,field,lo,hi", [
    ("DuckLakePool", "spec.minSize", 0, 1000), ("DuckLakePool", "spec.maxSize", 1, 1000),
    ("DuckLakePool", "spec.maxQueries", 0, 1000000000), ("DuckLakePool", "spec.scaleUpRate", 1, 1000),
    ("DuckLakePool", "spec.scaleDownRate", 1, 1000), ("DuckLakePool", "spec.queue.maxLength", 0, 1000000),
    ("DuckLakeCatalog", "spec.metadata.port", 1, 65535), ("DuckLakeCatalog", "spec.backupPolicy.retentionDays", 1, 36500),
    ("DuckLakeCatalog", "spec.dataInliningRowLimit", 0, 1000000000),
])
def test_bounds_match_the_spec_parsers(kind, field, lo, hi):
    n = node_at(kind, field)
    assert (n["minimum"], n["maximum"]) == (lo, hi)


def load_sample(name):
    with open(os.path.join(SAMPLES, name)) as f:
        return list(yaml.safe_load_all(f))


def test_samples():
    with open(os.path.join(SAMPLES, "kustomization.yaml")) as f:
        listed = yaml.safe_load(f)["resources"]
    on_disk = {os.path.basename(p) for p in glob.glob(os.path.join(SAMPLES, "*.yaml"))} - {"kustomization.yaml"}
    assert set(listed) == on_disk
    for name in listed:
        for doc in load_sample(name):
            assert doc["apiVersion"] == f"{GROUP}/v1alpha1" and doc["kind"] in KINDS
    [seed] = load_sample("invalid/ducklaketable-seed.yaml")
    names = [c["name"] for c in seed["spec"]["columns"]]
    assert seed["spec"]["format"]["partitioning"] == ["created_at"] and "created_at" not in names
    [fixed] = load_sample("ducklaketable.yaml")
    assert "created_at" in [c["name"] for c in fixed["spec"]["columns"]]


def test_seed_table_is_kept_exactly():
    """invalid/ducklaketable-seed.yaml is the original featherman README's table, unchanged."""
    [seed] = load_sample("invalid/ducklaketable-seed.yaml")
    assert seed == {
        "apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeTable", "metadata": {"name": "users"},
        "spec": {"catalogRef": "example", "name": "users",
                 "columns": [{"name": "id", "type": "INTEGER"}, {"name": "name", "type": "VARCHAR"}],
                 "format": {"compression": "ZSTD", "partitioning": ["created_at"]}}}


# ---------------------------------------------------------------------------------------------
# a real API server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_mk():
    out = {}
    for path in (os.path.join(ROOT, "build", "config.mk"),):
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    m = re.match(r"\s*([A-Z0-9_]+)\s*:?=\s*(.*?)\s*$", line)
                    if m:
                        out[m.group(1)] = m.group(2)
    return out


def find_binaries():
    """(kube-apiserver, kubectl, etcd) or a reason they are not there."""
    mk = config_mk()
    cache = os.environ.get("FEATHERMAN_CACHE", os.path.expanduser("~/.cache/featherman"))
    k8s_dirs = [d for d in (os.environ.get("K8S_BIN_DIR"), mk.get("K8S_BIN_DIR")) if d]
    k8s_dirs += sorted(d for d in glob.glob(os.path.join(cache, "k8s-v*", "bin")) if ".tmp" not in d)
    etcds = [e for e in (os.environ.get("ETCD_BIN"), mk.get("ETCD_BIN")) if e]
    etcds += sorted(e for e in glob.glob(os.path.join(cache, "etcd-v*", "bin", "etcd")) if ".tmp" not in e)
    api = next((os.path.join(d, "kube-apiserver") for d in k8s_dirs
                if os.access(os.path.join(d, "kube-apiserver"), os.X_OK)
                and os.access(os.path.join(d, "kubectl"), os.X_OK)), None)
    etcd = next((e for e in etcds if os.access(e, os.X_OK)), None)
    if not api or not etcd:
        return None, ("no kube-apiserver/kubectl/etcd binaries (build them with tests/cluster/build.sh; "
                      f"looked in K8S_BIN_DIR/ETCD_BIN and {cache}/{{k8s,etcd}}-*/bin)")
    return (api, os.path.join(os.path.dirname(api), "kubectl"), etcd), None


class BareAPIServer:
    """etcd + kube-apiserver on loopback with a static admin token; nothing else (no controllers,
    no nodes): enough to validate, default and store custom resources."""

    def __init__(self, api, kubectl, etcd):
        self.kubectl_bin = kubectl
        self.dir = tempfile.mkdtemp(prefix="fm-apiserver-")
        self.procs = []
        try:
            self._start(api, kubectl, etcd)
        except BaseException:
            self.stop()
            raise

    def _start(self, api, kubectl, etcd):
        d = self.dir
        token = uuid.uuid4().hex
        with open(os.path.join(d, "tokens.csv"), "w") as f:
            f.write(f'{token},admin,admin,"system:masters"\n')
        subprocess.run(["openssl", "genrsa", "-out", os.path.join(d, "sa.key"), "2048"], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", os.path.join(d, "sa.key"), "-pubout", "-out",
                        os.path.join(d, "sa.pub")], check=True, capture_output=True)
        ec, ep = free_port(), free_port()
        self.start("etcd", [etcd, "--data-dir", os.path.join(d, "etcd"), "--name", "default",
                            "--listen-client-urls", f"http://127.0.0.1:{ec}",
                            "--advertise-client-urls", f"http://127.0.0.1:{ec}",
                            "--listen-peer-urls", f"http://127.0.0.1:{ep}",
                            "--initial-advertise-peer-urls", f"http://127.0.0.1:{ep}",
                            "--initial-cluster", f"default=http://127.0.0.1:{ep}", "--unsafe-no-fsync"])
        port = free_port()
        self.start("kube-apiserver", [
            api, "--etcd-servers", f"http://127.0.0.1:{ec}", "--bind-address", "127.0.0.1",
            "--advertise-address", "127.0.0.1", "--secure-port", str(port), "--cert-dir", os.path.join(d, "certs"),
            "--token-auth-file", os.path.join(d, "tokens.csv"), "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", os.path.join(d, "sa.pub"),
            "--service-account-signing-key-file", os.path.join(d, "sa.key"),
            "--service-cluster-ip-range", "10.0.0.0/24", "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none"])  # 127.0.0.1 is not a valid Endpoints address
        self.kubeconfig = os.path.join(d, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config", "current-context": "bare",
                "clusters": [{"name": "bare", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                          "insecure-skip-tls-verify": True}}],
                "users": [{"name": "admin", "user": {"token": token}}],
                "contexts": [{"name": "bare", "context": {"cluster": "bare", "user": "admin"}}]}, f)
        deadline = time.time() + 120
        while True:
            for name, p, log in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.tail(log)}")
            r = subprocess.run([kubectl, "--kubeconfig", self.kubeconfig, "get", "--raw", "/readyz"],
                               capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip() == "ok":
                break
            if time.time() > deadline:
                raise TimeoutError("kube-apiserver not ready:\n" + self.tail(self.procs[-1][2]))
            time.sleep(0.5)

    def start(self, name, argv):
        log = os.path.join(self.dir, name + ".log")
        p = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p, log))

    @staticmethod
    def tail(log, n=40):
        with open(log) as f:
            return "".join(f.readlines()[-n:])

    def stop(self):
        for _, p, _ in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Kube:
    def __init__(self, kubectl, kubeconfig, namespace):
        self.kubectl_bin, self.kubeconfig, self.ns = kubectl, kubeconfig, namespace

    def run(self, *args, input=None, namespaced=True):
        argv = [self.kubectl_bin, "--kubeconfig", self.kubeconfig]
        if namespaced:
            argv += ["-n", self.ns]
        return subprocess.run(argv + list(args), input=input, capture_output=True, text=True, timeout=120)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, f"kubectl {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def create(self, doc):
        """(returncode, stdout+stderr) of `kubectl create -f -`."""
        r = self.run("create", "-f", "-", input=yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
        return r.returncode, r.stdout + r.stderr

    def get(self, kind, name):
        return json.loads(self.ok("get", kind, name, "-o", "json"))

    def patch(self, kind, name, patch, subresource=None):
        args = ["patch", kind, name, "--type", "merge", "-p", json.dumps(patch)]
        if subresource:
            args += ["--subresource", subresource]
        r = self.run(*args)
        return r.returncode, r.stdout + r.stderr


CLUSTER_FIXTURE = os.path.join(ROOT, "tests", "cluster", "fixture.py")
USE_CLUSTER = os.path.exists(CLUSTER_FIXTURE) and not os.environ.get("FEATHERMAN_CRD_TEST_BARE")
if USE_CLUSTER:
    import sys
    sys.path.insert(0, os.path.dirname(CLUSTER_FIXTURE))
    from fixture import kube_cluster  # noqa: E402,F401  (the session's test cluster)


@pytest.fixture(scope="module")
def kube(request):
    bins, why = find_binaries()
    if not bins:
        pytest.skip(why)
    api, kubectl, etcd = bins
    server = None
    if USE_CLUSTER:
        kc = request.getfixturevalue("kube_cluster")
        kubectl, kubeconfig = kc.kubectl_bin, kc.kubeconfig
    else:
        server = BareAPIServer(api, kubectl, etcd)
        kubeconfig = server.kubeconfig
    ns = "crd-test-" + uuid.uuid4().hex[:8]
    k = Kube(kubectl, kubeconfig, ns)
    try:
        k.ok("create", "namespace", ns, namespaced=False)
        r = k.run("apply", "-k", CRD_DIR, namespaced=False)
        assert r.returncode == 0, r.stdout + r.stderr
        k.crd_apply_output = r.stdout + r.stderr
        k.ok("wait", "--for", "condition=Established", "--timeout", "60s",
             *[f"crd/{plural}.{GROUP}" for plural, _ in KINDS.values()], namespaced=False)
        # discovery can lag the Established condition by a moment
        deadline = time.time() + 30
        while k.run("get", "dlc,dlt,dlp").returncode != 0 and time.time() < deadline:
            time.sleep(0.5)
        yield k
    finally:
        if server:
            server.stop()
        else:
            k.run("delete", "namespace", ns, "--wait=false", namespaced=False)


def catalog(name="lake", **spec):
    s = {"objectStore": {"bucket": "lake-bucket", "credentialsSecret": {"name": "s3"}}}
    s.update(spec)
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "DuckLakeCatalog", "metadata": {"name": name}, "spec": s}


def table(name="t", columns=None, partitioning=None, **spec):
    s = {"catalogRef": "lake", "name": name,
         "columns": columns or [{"name": "id", "type": "INTEGER"}, {"name": "created_at", "type": "TIMESTAMP"}]}
    if partitioning is not None:
        s["format"] = {"partitioning": partitioning}
    s.update(spec)
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "DuckLakeTable", "metadata": {"name": name}, "spec": s}


def pool(name="p", **spec):
    s = {"catalogRef": {"name": "lake"}}
    s.update(spec)
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "DuckLakePool", "metadata": {"name": name}, "spec": s}


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_live_crds_are_accepted_within_the_cel_cost_budget(kube):
    for plural, _ in KINDS.values():
        crd = json.loads(kube.ok("get", "crd", f"{plural}.{GROUP}", "-o", "json", namespaced=False))
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conds.get("Established") == "True" and conds.get("NamesAccepted") == "True", conds
    assert "warning" not in kube.crd_apply_output.lower(), kube.crd_apply_output


def test_live_samples_are_accepted_and_the_seed_table_is_refused(kube):
    kube.ok("apply", "-k", SAMPLES)
    code, out = kube.create(open(os.path.join(SAMPLES, "invalid", "ducklaketable-seed.yaml")).read().replace(
        "name: users\nspec", "name: seed-users\nspec"))
    assert code != 0
    assert "spec.format.partitioning entry 'created_at' names no declared column" in out, out


def test_live_defaults_are_filled_in(kube):
    kube.ok("apply", "-k", SAMPLES)
    c = kube.get("dlc", "example")["spec"]
    assert c["metadata"] == {"type": "sqlite"}
    assert c["storageClass"] == "standard" and c["size"] == "10Gi"
    assert c["objectStore"] == {
        "endpoint": "s3.amazonaws.com", "bucket": "my-data-lake", "prefix": "", "region": "us-east-1",
        "urlStyle": "path", "useSSL": True,
        "credentialsSecret": {"name": "s3-credentials", "accessKeyField": "AWS_ACCESS_KEY_ID",
                              "secretKeyField": "AWS_SECRET_ACCESS_KEY"}}
    assert c["encryption"] == {"enabled": False}
    assert c["backupPolicy"] == {"schedule": "0 2 * * *", "retentionDays": 7, "suspend": False}
    assert c["deletionPolicy"] == "retain"
    pg = kube.get("dlc", "analytics")["spec"]
    assert pg["metadata"]["passwordSecret"] == {"name": "analytics-pg", "key": "password"}
    assert pg["objectStore"]["readOnlyCredentialsSecret"]["secretKeyField"] == "AWS_SECRET_ACCESS_KEY"

    t = kube.get("dlt", "users")["spec"]
    assert all(col["nullable"] is (col["name"] != "id") for col in t["columns"])
    assert t["deletionPolicy"] == "retain"
    assert t["materializeTo"]["mode"] == "overwrite" and t["materializeTo"]["format"] == {
        "type": "parquet", "compression": "ZSTD"}

    p = kube.get("dlp", "default-pool")["spec"]
    assert p["queue"] == {"maxLength": 100, "maxWaitTime": "30s"}
    assert p["maxQueryDuration"] == "60s" and p["stabilizationWindow"] == "300s"
    assert p["catalogRef"] == {"name": "example", "readOnly": True}
    assert (p["minSize"], p["maxSize"], p["maxLifetime"], p["maxQueries"]) == (2, 10, "3600s", 100)

    name = uniq("bare")
    code, out = kube.create(pool(name))
    assert code == 0, out
    p = kube.get("dlp", name)["spec"]
    assert {k: p[k] for k in ("minSize", "maxSize", "targetUtilization", "maxIdleTime", "maxLifetime", "maxQueries",
                              "scaleUpRate", "scaleDownRate", "scaleInterval", "stabilizationWindow",
                              "maxQueryDuration")} == {
        "minSize": 1, "maxSize": 3, "targetUtilization": 0.8, "maxIdleTime": "300s", "maxLifetime": "0",
        "maxQueries": 0, "scaleUpRate": 2, "scaleDownRate": 1, "scaleInterval": "30s",
        "stabilizationWindow": "300s", "maxQueryDuration": "60s"}
    assert p["catalogRef"]["readOnly"] is False


def test_live_pool_min_above_max_is_refused(kube):
    code, out = kube.create(pool(uniq("p"), minSize=5, maxSize=2))
    assert code != 0 and "spec.minSize must not be greater than spec.maxSize" in out, out
    name = uniq("p")
    code, out = kube.create(pool(name, minSize=2, maxSize=4))
    assert code == 0, out
    code, out = kube.patch("dlp", name, {"spec": {"maxSize": 1}})
    assert code != 0 and "spec.minSize must not be greater than spec.maxSize" in out, out
    code, out = kube.create(pool(uniq("p"), minSize=3))  # maxSize defaults to 3
    assert code == 0, out
    code, out = kube.create(pool(uniq("p"), minSize=4))
    assert code != 0 and "spec.minSize must not be greater than spec.maxSize" in out, out


@pytest.mark.parametrize("spec,needle", [
    ({"targetUtilization": 0}, "spec.targetUtilization"),
    ({"targetUtilization": 1.5}, "spec.targetUtilization"),
    ({"scaleInterval": "500ms"}, "spec.scaleInterval must be at least 1s"),
    ({"maxQueryDuration": "0"}, "spec.maxQueryDuration must be greater than 0"),
    ({"maxIdleTime": "5 minutes"}, "spec.maxIdleTime"),
    ({"maxSize": 0}, "spec.maxSize"),
    ({"queue": {"maxLength": -1}}, "spec.queue.maxLength"),
    ({"catalogRef": {"name": "Not_A_Name"}}, "spec.catalogRef.name"),
    ({"template": {"resources": {"limits": {"memory": "lots"}}}}, "spec.template.resources.limits.memory"),
])
def test_live_pool_bounds(kube, spec, needle):
    code, out = kube.create(pool(uniq("p"), **spec))
    assert code != 0 and needle in out, out


def test_live_table_name_is_immutable(kube):
    name = uniq("t")
    code, out = kube.create(table(name))
    assert code == 0, out
    code, out = kube.patch("dlt", name, {"spec": {"name": "other"}})
    assert code != 0 and "spec.name is immutable" in out, out
    # other fields can change: a new column
    code, out = kube.patch("dlt", name, {"spec": {"columns": [
        {"name": "id", "type": "INTEGER"}, {"name": "created_at", "type": "TIMESTAMP"},
        {"name": "extra", "type": "VARCHAR"}]}})
    assert code == 0, out


@pytest.mark.parametrize("patch,needle", [
    ({"spec": {"metadata": {"type": "duckdb"}}}, "spec.metadata.type is immutable"),
    ({"spec": {"objectStore": {"bucket": "other-bucket"}}}, "spec.objectStore.bucket is immutable"),
    ({"spec": {"objectStore": {"prefix": "elsewhere/"}}}, "spec.objectStore.prefix is immutable"),
    ({"spec": {"encryption": {"enabled": True}}}, "spec.encryption.enabled is immutable"),
    # removing a defaulted field puts the default back, which is a change
    ({"spec": {"encryption": None, "objectStore": {"prefix": None}}}, "spec.objectStore.prefix is immutable"),
])
def test_live_catalog_fixed_fields_are_immutable(kube, patch, needle):
    name = uniq("c")
    code, out = kube.create(catalog(name, encryption={"enabled": False},
                                    objectStore={"bucket": "lake-bucket", "prefix": "lakes/one/",
                                                 "credentialsSecret": {"name": "s3"}}))
    assert code == 0, out
    code, out = kube.patch("dlc", name, patch)
    assert code != 0 and needle in out, out
    # what is not fixed can change
    code, out = kube.patch("dlc", name, {"spec": {"backupPolicy": {"retentionDays": 30}, "dataInliningRowLimit": 0,
                                                  "objectStore": {"region": "eu-west-1"}}})
    assert code == 0, out


def test_live_postgres_catalog_cannot_fall_back_to_the_default_backend(kube):
    name = uniq("c")
    code, out = kube.create(catalog(name, metadata={"type": "postgres", "host": "pg", "database": "lakes"}))
    assert code == 0, out
    code, out = kube.patch("dlc", name, {"spec": {"metadata": None}})  # would default to sqlite
    assert code != 0 and "spec.metadata.type is immutable" in out, out


@pytest.mark.parametrize("spec,needle", [
    ({"metadata": {"type": "postgres"}}, "host and spec.metadata.database are required when type is postgres"),
    ({"metadata": {"type": "sqlite", "host": "pg"}}, "only used when type is postgres"),
    ({"metadata": {"type": "postgres", "host": "pg", "database": "d", "size": "2Gi"}},
     "only used when type is sqlite or duckdb"),
    ({"metadata": {"type": "postgres", "host": "pg", "database": "d"}, "storageClass": "fast"},
     "spec.storageClass and spec.size are only used"),
    ({"metadata": {"type": "oracle"}}, "spec.metadata.type"),
    ({"size": "500Mi"}, "spec.size must be at least 1Gi"),
    ({"metadata": {"size": 1000}}, "spec.metadata.size must be at least 1Gi"),
    ({"storageClass": "a", "metadata": {"storageClass": "b"}}, "differ"),
    ({"objectStore": {"bucket": "My_Bucket", "credentialsSecret": {"name": "s3"}}}, "spec.objectStore.bucket"),
    ({"objectStore": {"bucket": "a..b", "credentialsSecret": {"name": "s3"}}}, "not a valid bucket name"),
    ({"objectStore": {"bucket": "b-1", "prefix": "a/../b", "credentialsSecret": {"name": "s3"}}},
     "must not contain '.' or '..' segments"),
    ({"objectStore": {"bucket": "b-1", "prefix": "/abs", "credentialsSecret": {"name": "s3"}}},
     "spec.objectStore.prefix"),
    ({"objectStore": {"bucket": "b-1"}}, "spec.objectStore.credentialsSecret"),
    ({"objectStore": {"endpoint": "https://s3", "bucket": "b-1", "credentialsSecret": {"name": "s3"}}},
     "spec.objectStore.endpoint"),
    ({"backupPolicy": {"schedule": "daily"}}, "spec.backupPolicy.schedule"),
    ({"backupPolicy": {"retentionDays": 0}}, "spec.backupPolicy.retentionDays"),
    ({"deletionPolicy": "shred"}, "spec.deletionPolicy"),
    ({"bogus": 1}, "bogus"),
])
def test_live_catalog_refusals(kube, spec, needle):
    doc = catalog(uniq("c"))
    doc["spec"].update(spec)
    code, out = kube.create(doc)
    assert code != 0 and needle in out, out


def test_live_catalog_sizes(kube):
    for size in ("1Gi", 1073741824, "2G", "1.5Ti"):
        code, out = kube.create(catalog(uniq("c"), size=size))
        assert code == 0, (size, out)


@pytest.mark.parametrize("type_", ["INT); DROP TABLE x; --", "INTEGER; SELECT 1", "VARCHAR -- x"])
def test_live_hostile_column_type_is_refused(kube, type_):
    code, out = kube.create(table(uniq("t"), columns=[{"name": "id", "type": type_}]))
    assert code != 0 and "spec.columns[0].type" in out and "should match" in out, out


@pytest.mark.parametrize("type_", ["DECIMAL(10,2)", 'STRUCT("a); DROP TABLE x; --" INTEGER, b VARCHAR[])',
                                   "MAP(VARCHAR, BIGINT)", "TIMESTAMP WITH TIME ZONE"])
def test_live_nested_and_quoted_types_pass_the_pattern(kube, type_):
    code, out = kube.create(table(uniq("t"), columns=[{"name": "id", "type": type_}]))
    assert code == 0, out


@pytest.mark.parametrize("columns,partitioning", [
    (None, ["id"]),
    (None, ["year(created_at)", "month(created_at)", "day(created_at)", "hour(created_at)"]),
    (None, ["YEAR(created_at)"]),
    (None, ["bucket(8, id)"]),
    (None, ["bucket(8,id)", "day( created_at )"]),
    (None, ["bucket(1000000, id)"]),
    (None, []),
    ([{"name": "year(ts)", "type": "INTEGER"}], ["year(ts)"]),  # an exact column name wins
    ([{"name": "Mixed Case", "type": "DATE"}], ["month(Mixed Case)"]),
])
def test_live_partitioning_accepted(kube, columns, partitioning):
    code, out = kube.create(table(uniq("t"), columns=columns, partitioning=partitioning))
    assert code == 0, out


@pytest.mark.parametrize("partitioning,needle", [
    (["created"], "entry 'created' names no declared column"),
    (["id", "day(nope)"], "entry 'day(nope)' names no declared column"),
    (["week(created_at)"], "entry 'week(created_at)' names no declared column"),
    (["bucket(x, id)"], "entry 'bucket(x, id)' names no declared column"),
    (["bucket(8, nope)"], "entry 'bucket(8, nope)' names no declared column"),
    (["ID"], "entry 'ID' names no declared column"),  # exact, as in the C parser
    (["bucket(0, id)"], "bucket(N, col) needs N in 1..1000000"),
    (["bucket(1000001, id)"], "bucket(N, col) needs N in 1..1000000"),
    (["id", "id"], "entries must be unique"),
])
def test_live_partitioning_refused(kube, partitioning, needle):
    code, out = kube.create(table(uniq("t"), partitioning=partitioning))
    assert code != 0 and needle in out, out


@pytest.mark.parametrize("spec,needle", [
    ({"columns": []}, "spec.columns"),
    ({"columns": [{"name": "a", "type": "INTEGER"}, {"name": "a", "type": "VARCHAR"}]}, "Duplicate value"),
    ({"columns": [{"name": "a\u0001", "type": "INTEGER"}]}, "spec.columns[0].name"),
    ({"columns": [{"name": "a", "type": "INTEGER", "renamedFrom": "A"}]}, "renamedFrom must differ"),
    ({"name": ""}, "spec.name"),
    ({"catalogRef": "Bad_Name"}, "spec.catalogRef"),
    ({"format": {"compression": "LZMA"}}, "spec.format.compression"),
    ({"format": {"partitionBy": ["id"]}}, "partitionBy"),  # unknown field: the field is `partitioning`
    ({"materializeTo": {"enabled": True}}, "spec.materializeTo.sql is required when enabled"),
    ({"materializeTo": {"mode": "upsert"}}, "spec.materializeTo.mode"),
    ({"materializeTo": {"destination": {"bucket": "x"}}}, "spec.materializeTo.destination.bucket"),
])
def test_live_table_refusals(kube, spec, needle):
    doc = table(uniq("t"))
    doc["spec"].update(spec)
    code, out = kube.create(doc)
    assert code != 0 and needle in out, out


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cond(**kw):
    c = {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "", "lastTransitionTime": now()}
    c.update(kw)
    return c


def test_live_printer_columns_and_categories(kube):
    kube.ok("apply", "-k", SAMPLES)
    code, out = kube.patch("dlp", "default-pool", {"status": {"current": 3, "desired": 3, "idle": 2, "busy": 1,
                                                              "queueLength": 0, "phase": "Ready",
                                                              "conditions": [cond()]}}, subresource="status")
    assert code == 0, out
    lines = kube.ok("get", "dlp", "default-pool").splitlines()
    assert lines[0].split()[:8] == ["NAME", "MIN", "MAX", "CURRENT", "IDLE", "BUSY", "PHASE", "AGE"], lines
    assert lines[1].split()[:7] == ["default-pool", "2", "10", "3", "2", "1", "Ready"], lines
    wide = kube.ok("get", "dlp", "default-pool", "-o", "wide").splitlines()
    assert "CATALOG" in wide[0].split() and "example" in wide[1].split()

    code, out = kube.patch("dlc", "example", {"status": {"phase": "Ready", "conditions": [cond()]}},
                           subresource="status")
    assert code == 0, out
    lines = kube.ok("get", "dlc", "example").splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "READY", "AGE"], lines
    assert lines[1].split()[:3] == ["example", "Ready", "True"], lines
    lines = kube.ok("get", "dlt", "users").splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "READY", "AGE"], lines

    out = kube.ok("get", "featherman")
    for kind in KINDS:
        assert f"{kind.lower()}.{GROUP}/" in out, out


def test_live_status_is_a_subresource(kube):
    name = uniq("p")
    code, out = kube.create(pool(name))
    assert code == 0, out
    code, out = kube.patch("dlp", name, {"status": {"current": 7}})  # main resource: status ignored
    assert kube.get("dlp", name).get("status", {}).get("current") is None
    code, out = kube.patch("dlp", name, {"spec": {"maxSize": 9}, "status": {"current": 2}}, subresource="status")
    assert code == 0, out
    got = kube.get("dlp", name)
    assert got["status"]["current"] == 2 and got["spec"]["maxSize"] == 3


@pytest.mark.parametrize("conditions,needle", [
    ([cond(status="Yes")], "status"),
    ([cond(reason="not a reason")], "reason"),
    ([cond(lastTransitionTime="yesterday")], "lastTransitionTime"),
    ([cond(), cond()], "Duplicate value"),
    ([{"type": "Ready", "status": "True"}], "reason"),
    ([cond(message="x" * 32769)], "message"),
])
def test_live_conditions_schema(kube, conditions, needle):
    name = uniq("c")
    code, out = kube.create(catalog(name))
    assert code == 0, out
    code, out = kube.patch("dlc", name, {"status": {"conditions": conditions}}, subresource="status")
    assert code != 0 and needle in out, out


SPECCHECK_C = r"""
#include <stdio.h>
#include <string.h>
#include "model/spec.h"
int main(void) {
    json_error_t je;
    json_t *doc = json_loadf(stdin, 0, &je);
    if (!doc) { printf("bad json: %s\n", je.text); return 2; }
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    fm_err e;
    memset(&e, 0, sizeof e);
    int rc;
    if (kind && !strcmp(kind, "DuckLakeCatalog")) {
        fm_catalog_spec c; rc = fm_catalog_spec_parse(doc, &c, &e); if (!rc) fm_catalog_spec_free(&c);
    } else if (kind && !strcmp(kind, "DuckLakeTable")) {
        fm_table_spec t; rc = fm_table_spec_parse(doc, &t, &e); if (!rc) fm_table_spec_free(&t);
    } else {
        fm_pool_spec p; rc = fm_pool_spec_parse(doc, &p, &e); if (!rc) fm_pool_spec_free(&p);
    }
    printf("%s\n", rc ? e.msg : "OK");
    json_decref(doc);
    return rc ? 1 : 0;
}
"""


@pytest.fixture(scope="module")
def spec_parser(tmp_path_factory):
    """The operator's own spec parsers (src/spec_*.c) as a filter: JSON on stdin, "OK" or the error."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("speccheck")
    with open(d / "main.c", "w") as f:
        f.write(SPECCHECK_C)
    src = os.path.join(ROOT, "src")
    files = [os.path.join(src, n) for n in ("model/spec_catalog.c", "model/spec_table.c", "model/spec_pool.c",
                                             "model/spec_util.c", "model/sqlquote.c", "model/typegrammar.c",
                                             "base/buf.c", "base/err.c")]
    r = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-I", src, "-o", str(d / "speccheck"), str(d / "main.c"),
                        *files, "-ljansson", "-lm"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot build the spec parser harness (jansson?): " + r.stderr[-500:])

    def parse(doc):
        p = subprocess.run([str(d / "speccheck")], input=json.dumps(doc), capture_output=True, text=True)
        return p.returncode, p.stdout.strip()
    return parse


def test_live_defaulted_objects_parse_in_the_c_spec_parsers(kube, spec_parser):
    """What the API server stores (the samples and bare objects with every default filled in) is
    what the operator reads: its parsers must accept all of it."""
    kube.ok("apply", "-k", SAMPLES)
    for doc in (catalog("cx-minimal"), pool("cx-bare"), table("cx-bare"),
                table("cx-parts", partitioning=["bucket(8, id)", "day( created_at )", "id"]),
                table("cx-mat", materializeTo={"enabled": True, "sql": "SELECT 1"}),
                catalog("cx-pg", metadata={"type": "postgres", "host": "pg", "database": "d",
                                           "passwordSecret": {"name": "pw"}},
                        objectStore={"bucket": "b-1", "credentialsSecret": {"name": "s"},
                                     "readOnlyCredentialsSecret": {"name": "r"}}),
                catalog("cx-sized", size=1073741824)):
        code, out = kube.create(doc)
        assert code == 0, out
    seen = 0
    for kind in ("dlc", "dlt", "dlp"):
        for obj in json.loads(kube.ok("get", kind, "-o", "json"))["items"]:
            code, out = spec_parser(obj)
            assert code == 0, (obj["kind"], obj["metadata"]["name"], out)
            seen += 1
    assert seen >= 11


def test_seed_table_is_refused_by_the_c_spec_parser_too(spec_parser):
    [seed] = load_sample("invalid/ducklaketable-seed.yaml")
    code, out = spec_parser(seed)
    assert code == 1 and '"created_at" is not a declared column' in out, out
